from ninja import Router

router = Router(tags=["Quotes, invoices and payments"])
