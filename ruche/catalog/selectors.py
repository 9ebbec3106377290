from django.db.models import Q, QuerySet

from ruche.catalog.models import Product
from ruche.core.exceptions import NotFound
from ruche.core.selectors import filter_common


def product_list(*, filters: dict) -> QuerySet[Product]:
    """Products are shared by the whole company: everyone sees the catalogue."""
    return filter_common(Product.objects.filter(is_deleted=False), filters, ("owner_id",))


def access_product_by_id(product_id: int) -> Product:
    product = Product.objects.filter(pk=product_id, is_deleted=False).first()
    if product is None:
        raise NotFound(f"Product {product_id} not found.")
    return product


def product_search(*, term: str, exact: bool = False) -> QuerySet[Product]:
    lookup = "iexact" if exact else "icontains"
    return Product.objects.filter(is_deleted=False).filter(
        Q(**{f"name__{lookup}": term}) | Q(**{f"code__{lookup}": term})
    )
