from ninja import NinjaAPI

api = NinjaAPI(title="Ruche API", version="2.0.0", urls_namespace="api-v2")
