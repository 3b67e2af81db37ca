"""The sandbox Pro Santé Connect provider (OpenID Connect CIBA) and the virtual e-CPS phone."""
