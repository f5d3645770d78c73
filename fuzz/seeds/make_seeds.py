"""Writes the seed inputs of the fuzz targets (run from fuzz/seeds/).

Keys are generated afresh: the seeds only need the shapes providers send.
"""
import base64, json, os
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.hazmat.primitives import serialization

def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

def num(n: int, length: int = 0) -> str:
    return b64(n.to_bytes(length or (n.bit_length() + 7) // 8, "big"))

def write(target, name, data: bytes):
    os.makedirs(target, exist_ok=True)
    with open(os.path.join(target, name), "wb") as f:
        f.write(data)

ISS = "https://issuer.fuzz.test/realms/fuzz"
rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key().public_numbers()
p256 = ec.generate_private_key(ec.SECP256R1()).public_key().public_numbers()
p384 = ec.generate_private_key(ec.SECP384R1()).public_key().public_numbers()
ed = ed25519.Ed25519PrivateKey.generate().public_key().public_bytes(
    serialization.Encoding.Raw, serialization.PublicFormat.Raw)
jwks = {"keys": [
    {"kty": "RSA", "use": "sig", "kid": "k", "n": num(rsa_key.n), "e": num(rsa_key.e)},
    {"kty": "EC", "use": "sig", "kid": "1", "crv": "P-256", "x": num(p256.x, 32), "y": num(p256.y, 32)},
    {"kty": "EC", "kid": "ec384", "alg": "ES384", "crv": "P-384", "x": num(p384.x, 48), "y": num(p384.y, 48)},
    {"kty": "OKP", "kid": "", "crv": "Ed25519", "x": b64(ed)},
    {"kty": "RSA", "use": "enc", "kid": "enc", "alg": "RSA-OAEP", "n": num(rsa_key.n), "e": "AQAB"},
]}
write("jwks_parse", "all-kinds.json", json.dumps(jwks).encode())
for i, key in enumerate(jwks["keys"]):
    write("jwks_parse", f"one-{i}.json", json.dumps({"keys": [key]}).encode())

discovery = {
    "issuer": ISS,
    "jwks_uri": ISS + "/protocol/openid-connect/certs",
    "authorization_endpoint": ISS + "/protocol/openid-connect/auth",
    "id_token_signing_alg_values_supported": ["RS256", "EdDSA", "Ed25519"],
}
write("discovery_parse", "keycloak.json", json.dumps(discovery).encode())
write("discovery_parse", "minimal.json", json.dumps({"issuer": ISS, "jwks_uri": ISS}).encode())
write("discovery_parse", "query.json", json.dumps({"issuer": ISS, "jwks_uri": ISS + "?appid=1"}).encode())

claims = {"iss": ISS, "aud": "fuzz-api", "sub": "s", "exp": 1718722600, "iat": 1718719000,
          "nbf": 1718718990, "scope": "read"}
for i, alg in enumerate(["RS256", "ES256", "EdDSA"]):
    kid = ["rsa-1", "ec-256", "ed-1"][i]
    header = json.dumps({"alg": alg, "kid": kid, "typ": "JWT"}).encode()
    body = json.dumps(claims).encode()
    # Mode 2: signed with the target's real key.
    write("verify_token", f"signed-{alg}", bytes([2, i]) + header + b"\xff" + body)
    # Mode 1: header, payload, made-up signature.
    write("verify_token", f"parts-{alg}", bytes([1]) + header + b"\xff" + body + b"\xff" + b"\x00" * 64)
    # Mode 0: a compact token of that shape.
    write("verify_token", f"text-{alg}", bytes([0]) + f"{b64(header)}.{b64(body)}.{b64(bytes(64))}".encode())
