"""Patient sign-in: activation codes exchanged for an access token and a rotating refresh token."""
