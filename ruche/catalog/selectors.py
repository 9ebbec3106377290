from django.db.models import Q, QuerySet

from ruche.catalog.models import Product
from ruche.core.exceptions import NotFound


def product_list(*, filters: dict) -> QuerySet[Product]:
    """Products are shared by the whole company: everyone sees the catalogue."""
    products = Product.objects.filter(is_deleted=False)
    if filters.get("ids"):
        products = products.filter(pk__in=filters["ids"])
    if filters.get("owner_id") is not None:
        products = products.filter(owner_id=filters["owner_id"])
    if filters.get("updated_since"):
        products = products.filter(update_time__gte=filters["updated_since"])
    return products


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
