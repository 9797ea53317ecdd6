"""The client's methods, one mixin class per area of the API, over the one transport (``_base.Resource``)."""
