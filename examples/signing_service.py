"""A small local C2PA signing service: it holds the key, so the apps that sign images never do.

Run: ``python examples/signing_service.py`` (serves http://127.0.0.1:8100; then try
``python examples/remote_signing.py``).

Key: ``--cert chain.pem --key key.pem`` (password in $AIACT_SIGNING_KEY_PASSWORD), else
$AIACT_SIGNING_CERT_PEM + $AIACT_SIGNING_KEY_PEM, else the per-user development chain (untrusted).
Token: ``--token-env NAME`` names the variable holding the bearer token (default AIACT_SIGNER_TOKEN);
without one the service only listens on loopback.

Protocol (what `aiact_transparency.provenance.keys.remote.RemoteSigner` speaks):
``GET /certificate`` -> JSON {alg, certificate_chain_pem, tsa_url}; ``POST /sign`` with the bytes to sign ->
the raw signature. The key is never returned or logged; this process only ever prints the certificate.
In production put a KMS/HSM client behind the same two endpoints, and TLS in front of them.
"""

from __future__ import annotations

import argparse
import hmac
import ipaddress
import json
import os
import sys

import uvicorn
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from aiact_transparency.provenance.keys import (
    ENV_KEY_PASSWORD,
    KeyConfigError,
    ManifestSigner,
    default_signer,
    load_signer_from_files,
)

HOST, PORT = "127.0.0.1", 8100
# C2PA hands the signer a COSE Sig_structure: the claim plus a few hundred bytes, a few KiB in practice.
MAX_BODY = 1024 * 1024
TOKEN_ENV = "AIACT_SIGNER_TOKEN"


class _TooLarge(Exception):
    pass


async def _read_body(request: Request, limit: int) -> bytes:
    # Content-Length can be absent (chunked) or lie, so count while reading and stop at the limit.
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > limit):
        raise _TooLarge
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _TooLarge
        chunks.append(chunk)
    return b"".join(chunks)


def create_app(signer: ManifestSigner, *, token: str | None = None, max_body: int = MAX_BODY) -> Starlette:
    """The service around any ManifestSigner (a local key here; a KMS/HSM client in production)."""
    expected = f"Bearer {token}".encode() if token else None
    certificate = json.dumps(
        {"alg": signer.alg, "certificate_chain_pem": signer.certificate_chain_pem.decode(), "tsa_url": signer.tsa_url}
    ).encode()

    def authorized(request: Request) -> bool:
        if expected is None:
            return True
        # compare_digest: the time taken must not reveal how much of a guessed token was right.
        return hmac.compare_digest(request.headers.get("authorization", "").encode(), expected)

    def unauthorized() -> Response:
        return PlainTextResponse("missing or wrong bearer token", 401, headers={"WWW-Authenticate": "Bearer"})

    async def get_certificate(request: Request) -> Response:
        # Behind the token too: a wrong token then fails when the client starts, not on its first image.
        if not authorized(request):
            return unauthorized()
        return Response(certificate, media_type="application/json")

    async def sign(request: Request) -> Response:
        if not authorized(request):  # before reading the body: strangers cannot make us buffer 1 MiB
            return unauthorized()
        try:
            data = await _read_body(request, max_body)
        except _TooLarge:
            return PlainTextResponse(f"body larger than {max_body} bytes", 413)
        if not data:
            return PlainTextResponse("empty body: POST the bytes to sign", 400)
        # A KMS/HSM client blocks on the network; keep the event loop free for other requests.
        signature = await run_in_threadpool(signer.sign, data)
        return Response(signature, media_type="application/octet-stream")

    return Starlette(
        routes=[Route("/certificate", get_certificate, methods=["GET"]), Route("/sign", sign, methods=["POST"])]
    )


def _load_signer(args: argparse.Namespace) -> ManifestSigner:
    if bool(args.cert) != bool(args.key):
        raise KeyConfigError(
            "give both --cert and --key, or neither (then the environment or the development chain is used)"
        )
    if args.cert:
        password = os.environ.get(ENV_KEY_PASSWORD)
        return load_signer_from_files(args.cert, args.key, password=password.encode() if password else None)
    return default_signer()


def _is_loopback(host: str) -> bool:
    try:
        return host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cert", help="PEM certificate chain, leaf first")
    parser.add_argument("--key", help="PEM private key of the leaf certificate")
    parser.add_argument("--host", default=HOST)
    parser.add_argument("--port", type=int, default=PORT)
    parser.add_argument("--token-env", default=TOKEN_ENV, help="environment variable holding the bearer token")
    args = parser.parse_args(argv)
    token = os.environ.get(args.token_env) or None
    if token is None and not _is_loopback(args.host):
        sys.exit(f"refusing to serve on {args.host} without a token: set ${args.token_env}")
    try:
        signer = _load_signer(args)
    except KeyConfigError as exc:
        sys.exit(f"signing service: {exc}")
    identity = getattr(signer, "identity", None)
    print(f"signing service on http://{args.host}:{args.port} ({'bearer token required' if token else 'no token'})")
    if identity is not None:
        for name, value in identity.describe().items():
            print(f"  {name}: {value}")
    uvicorn.run(create_app(signer, token=token), host=args.host, port=args.port, log_level="info")


if __name__ == "__main__":
    main()
