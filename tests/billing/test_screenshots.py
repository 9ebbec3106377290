"""`python -m ruche.billing.screenshots` renders the first page of the latest quote PDF and of
the latest issued invoice PDF to PNG (A4 at 108 dpi: 893 x 1263 pixels)."""

import pytest

from ruche.billing import screenshots, services

pytest.importorskip("pypdfium2", reason="pypdfium2 rasterises the PDF pages")

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def test_quote_and_invoice_first_pages_as_png(issued_invoice, rep_actor, tmp_path, capsys):
    services.quote_create(actor=rep_actor, data={"deal_id": issued_invoice.deal_id})
    screenshots.main(["--out", str(tmp_path / "shots")])
    for name in ("quote-pdf.png", "invoice-pdf.png"):
        data = (tmp_path / "shots" / name).read_bytes()
        assert data.startswith(PNG_SIGNATURE)
        assert len(data) > 20_000  # a rendered page, not a blank one
    assert capsys.readouterr().out.splitlines() == [
        f"{tmp_path / 'shots' / 'quote-pdf.png'} (893 x 1263)",
        f"{tmp_path / 'shots' / 'invoice-pdf.png'} (893 x 1263)",
    ]


def test_without_documents_it_says_what_to_do(db, tmp_path):
    with pytest.raises(SystemExit, match="ruche demo"):
        screenshots.main(["--out", str(tmp_path)])
