"""Bybit V5 request signing: HMAC-SHA256 (hex) or RSA-SHA256 PKCS#1 v1.5 (base64).

`cryptography` is imported only when an RSA key is configured: it costs ~7 MB of memory.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any, Callable

Signer = Callable[[str], str]


def string_to_sign(timestamp_ms: int, api_key: str, recv_window_ms: int, query: str) -> str:
    return f"{timestamp_ms}{api_key}{recv_window_ms}{query}"


def hmac_signer(secret: str) -> Signer:
    key = secret.encode()

    def sign(payload: str) -> str:
        return hmac.new(key, payload.encode(), hashlib.sha256).hexdigest()

    return sign


def load_rsa_private_key(pem: str) -> Any:
    """Parse an unencrypted PEM RSA private key; ValueError with a message free of key bytes."""
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    try:
        key = serialization.load_pem_private_key(pem.encode(), password=None)
    except TypeError:
        raise ValueError("the RSA private key is encrypted; give an unencrypted PEM key") from None
    except (ValueError, UnsupportedAlgorithm):
        raise ValueError("not a readable PEM private key") from None
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("the PEM key is not an RSA key")
    return key


def rsa_signer(pem: str) -> Signer:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    key = load_rsa_private_key(pem)

    def sign(payload: str) -> str:
        signature = key.sign(payload.encode(), padding.PKCS1v15(), hashes.SHA256())
        return base64.b64encode(signature).decode()

    return sign


def rsa_verify(public_pem: str, payload: str, signature_b64: str) -> bool:
    """Used by the simulator, which checks RSA signatures as Bybit does."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding, rsa

    try:
        key = serialization.load_pem_public_key(public_pem.encode())
        if not isinstance(key, rsa.RSAPublicKey):
            return False
        key.verify(base64.b64decode(signature_b64, validate=True), payload.encode(),
                   padding.PKCS1v15(), hashes.SHA256())
    except (InvalidSignature, ValueError):
        return False
    return True
