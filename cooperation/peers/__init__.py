"""Pairing with other LibCoop instances: each instance's signing key, the partners' instances it trusts, and signed
server-to-server requests (RFC 9421) between them."""
