"""The ZPA sim: the management API's sign-in and identity provider configuration, and ZPA as a
SAML service provider (minimal: what the SAML issue asks of ZPA)."""
