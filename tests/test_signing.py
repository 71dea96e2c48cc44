"""Signatures must match Bybit's documented scheme byte for byte."""

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from exporter.bybit import signing

KEY, SECRET, TIMESTAMP, RECV_WINDOW = (
    "CFEJUGQEQPPHGOHGHM", "VDFZSSPUTKRJMXAVMJXBHEXIPZNZJIZUBVRQ", 1658384314791, 5000)


@pytest.mark.parametrize("query, expected", [
    ("accountType=UNIFIED", "85bf838975c2e3e6cffe87175d392d4c83b880214ae65f6ed9a543a1a51b85ba"),
    ("accountType=UNIFIED&coin=USDT,USDC",
     "b932fc785d7fc66dfd75658cedf4394b6933410f5998e7aa82634653a0f656aa"),
    ("accountType=UNIFIED&coin=USDT%2CUSDC",
     "7d375f16d19ee905805adc6d49a7826a2b3ec89ec6d71c1ba599ef079c8323fb"),
])
def test_hmac_signature_matches_bybit_vectors(query, expected):
    payload = signing.string_to_sign(TIMESTAMP, KEY, RECV_WINDOW, query)
    assert signing.hmac_signer(SECRET)(payload) == expected


def _rsa_pair():
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
    public = key.public_key().public_bytes(serialization.Encoding.PEM,
                                           serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    return private, public


def test_rsa_signature_verifies_with_the_public_half_and_only_for_its_payload():
    private, public = _rsa_pair()
    payload = signing.string_to_sign(TIMESTAMP, KEY, RECV_WINDOW, "accountType=UNIFIED")
    signature = signing.rsa_signer(private)(payload)
    assert signing.rsa_verify(public, payload, signature)
    assert not signing.rsa_verify(public, payload + "x", signature)
    assert not signing.rsa_verify(public, payload, "not base64!")


def test_unreadable_rsa_key_gives_a_message_without_key_material():
    with pytest.raises(ValueError) as caught:
        signing.load_rsa_private_key("-----BEGIN PRIVATE KEY-----\nSECRETSTUFF\n-----END PRIVATE KEY-----\n")
    assert "SECRETSTUFF" not in str(caught.value)
