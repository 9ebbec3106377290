from ninja import Router

router = Router(tags=["Imports and exports"])
