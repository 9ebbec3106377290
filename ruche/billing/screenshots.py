"""The first page of a quote PDF and of an invoice PDF as PNG images, so people can see that the
documents look right.

    python -m ruche.billing.screenshots [--out docs/screenshots] [--scale 1.5]

Run it on a database with data (after `ruche demo`): it takes the latest quote and the latest
issued invoice, renders them exactly as the app serves them (WeasyPrint, Factur-X for the
invoice) and writes quote-pdf.png and invoice-pdf.png. The PDF page is rasterised with PDFium
(the pypdfium2 wheel); WeasyPrint can no longer write PNG itself (removed in version 53)."""

import argparse
import os
from pathlib import Path

# 72 points per inch: a scale of 1.5 gives 108 dpi, an A4 page of 893 x 1263 pixels.
DEFAULT_SCALE = 1.5


def first_page_png(pdf: bytes, target: Path, scale: float = DEFAULT_SCALE) -> tuple[int, int]:
    """Rasterise the PDF's first page to `target` (PNG); returns its size in pixels."""
    import pypdfium2

    document = pypdfium2.PdfDocument(pdf)
    try:
        image = document[0].render(scale=scale).to_pil()
        image.save(target, format="PNG")
        return image.size
    finally:
        document.close()


def latest_documents() -> dict:
    """{"quote": the latest quote, "invoice": the latest issued invoice}, each with its PDF."""
    from ruche.billing.einvoicing.pdf import invoice_pdf, quote_pdf
    from ruche.billing.models import Invoice, Quote

    quote = Quote.objects.order_by("-issue_date", "-pk").first()
    invoice = (
        Invoice.objects.filter(issued_time__isnull=False, kind=Invoice.Kind.INVOICE)
        .order_by("-issued_time", "-pk")
        .first()
    )
    if quote is None or invoice is None:
        raise SystemExit("No quote or no issued invoice: run `ruche demo` first.")
    return {"quote": quote_pdf(quote), "invoice": invoice_pdf(invoice)}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="docs/screenshots")
    parser.add_argument("--scale", type=float, default=DEFAULT_SCALE)
    args = parser.parse_args(argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    for name, pdf in latest_documents().items():
        target = out / f"{name}-pdf.png"
        width, height = first_page_png(pdf, target, args.scale)
        print(f"{target} ({width} x {height})")


if __name__ == "__main__":
    main()
