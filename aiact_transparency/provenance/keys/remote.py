"""A ManifestSigner that asks an HTTP signing service to sign, so the private key never enters this process.

Wire protocol (see examples/signing_service.py for a small service that speaks it):

- ``GET  {base}/certificate`` -> 200 JSON ``{"alg": "es256", "certificate_chain_pem": "...", "tsa_url": null}``
- ``POST {base}/sign`` with the raw bytes to sign (``application/octet-stream``) -> 200 with the raw
  signature in COSE form for `alg` (r||s for ES*, PSS bytes for PS*, 64 bytes for Ed25519).

Both requests carry ``Authorization: Bearer <token>`` when a token is configured. Only the standard library
is used (``urllib.request``), so the runtime dependencies stay small. Calls block; c2pa invokes `sign` from
the signing worker thread, so that is fine.
"""

from __future__ import annotations

import datetime as dt
import http.client
import ipaddress
import json
import logging
import os
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from typing import Any, NoReturn

from .certs import alg_for_key
from .signers import SUPPORTED_ALGS, SigningIdentity
from .validation import KeyConfigError, check_profile, check_validity, parse_chain

__all__ = ["DEFAULT_TIMEOUT", "ENV_SIGNER_TOKEN", "RemoteSigner", "RemoteSignerError"]

log = logging.getLogger("aiact_transparency.remote_signer")

ENV_SIGNER_TOKEN = "AIACT_SIGNER_TOKEN"
DEFAULT_TIMEOUT = 5.0
# A signature is at most 1 KiB (RSA-8192 PSS); a certificate chain a few KiB. Anything far larger is not
# what the protocol returns, and reading it unbounded would let a broken service exhaust memory.
_MAX_SIGNATURE = 4096
_MAX_JSON = 256 * 1024
_MAX_ERROR_TEXT = 200


class RemoteSignerError(RuntimeError):
    """The signing service could not be used; the message names the URL (never the token) and the fix.

    `status` is the HTTP status when the service answered, None when it could not be reached or its
    answer was malformed.
    """

    def __init__(self, message: str, *, url: str, status: int | None = None) -> None:
        super().__init__(message)
        self.url = url
        self.status = status


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    # urllib would follow a redirect and resend the Authorization header to wherever it points; a signing
    # service has no reason to redirect, so a redirect is reported as an error instead.
    def redirect_request(self, req: urllib.request.Request, fp: Any, code: int, msg: str,
                         headers: Any, newurl: str) -> None:
        return None


def _normalize_base_url(base_url: str) -> str:
    parts = urllib.parse.urlsplit(base_url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"signing service URL {base_url!r} is not an http(s) URL. "
                         "Fix: pass the service's base URL, e.g. 'http://127.0.0.1:8100'.")
    if parts.username or parts.password or parts.query or parts.fragment:
        # Credentials in a URL end up in logs and error messages; the token has its own channel.
        raise ValueError("signing service URL must not carry credentials, a query or a fragment. "
                         f"Fix: pass the bearer token as token= or ${ENV_SIGNER_TOKEN}.")
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, parts.path.rstrip("/"), "", ""))


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _check_token(token: str) -> str:
    # A CR/LF or space in the token would corrupt the header (or smuggle another one); say so without echoing it.
    if not token or not token.isascii() or not token.isprintable() or " " in token:
        raise ValueError("the signing service token is empty or contains spaces, control or non-ASCII "
                         f"characters. Fix: set token= or ${ENV_SIGNER_TOKEN} to the service's bearer token.")
    return token


class RemoteSigner:
    """A ManifestSigner backed by an HTTP signing service (KMS/HSM front end or examples/signing_service.py).

    The certificate chain and algorithm are fetched once, at construction, and validated like a local
    key's, so a misconfigured service fails at startup, not on the first image.
    """

    __slots__ = ("_auth", "_opener", "_timeout", "alg", "certificate_chain_pem", "identity", "tsa_url", "url")

    def __init__(self, base_url: str, *, token: str | None = None, timeout: float = DEFAULT_TIMEOUT,
                 tsa_url: str | None = None, environ: Mapping[str, str] | None = None) -> None:
        self.url = _normalize_base_url(base_url)
        env = os.environ if environ is None else environ
        token = token if token is not None else env.get(ENV_SIGNER_TOKEN) or None
        self._auth = f"Bearer {_check_token(token)}" if token is not None else None
        if tsa_url is not None and not tsa_url.startswith(("http://", "https://")):
            raise ValueError(f"time-stamp authority URL {tsa_url!r} is not an http(s) URL. Fix: use the TSA's URL.")
        if timeout <= 0:
            raise ValueError(f"timeout must be positive, got {timeout!r}")
        self._timeout = timeout
        self._opener = urllib.request.build_opener(_NoRedirect())
        host = urllib.parse.urlsplit(self.url).hostname or ""
        if self._auth and self.url.startswith("http://") and not _is_loopback(host):
            log.warning("sending the signing service token to %s over plain http; use https beyond localhost",
                        self.url)
        info = self._fetch_certificate()
        self.alg, self.certificate_chain_pem, service_tsa = self._validate_certificate(info)
        self.tsa_url = tsa_url if tsa_url is not None else service_tsa
        self.identity = SigningIdentity.from_chain(self.certificate_chain_pem, self.alg,
                                                   source=f"signing service {self.url}")

    def sign(self, data: bytes) -> bytes:
        signature = self._request("/sign", data)
        if not 0 < len(signature) <= _MAX_SIGNATURE:
            self._fail("/sign", None, f"returned a {len(signature)}-byte signature, which is not a {self.alg} "
                       "signature", "check that the service implements POST /sign returning the raw signature")
        return signature

    def __repr__(self) -> str:
        return f"RemoteSigner(url={self.url!r}, alg={self.alg!r}, subject={self.identity.subject!r})"

    def _fetch_certificate(self) -> dict[str, Any]:
        body = self._request("/certificate", None)
        try:
            info = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            info = None
        if not isinstance(info, dict) or not isinstance(info.get("alg"), str) \
                or not isinstance(info.get("certificate_chain_pem"), str):
            self._fail("/certificate", None, "did not return JSON with string members 'alg' and "
                       "'certificate_chain_pem'", "check that the URL points at the signing service")
        return info

    def _validate_certificate(self, info: Mapping[str, Any]) -> tuple[str, bytes, str | None]:
        alg, tsa = info["alg"].lower(), info.get("tsa_url")
        chain_pem = info["certificate_chain_pem"].encode("ascii", "replace")
        src = f"certificate chain from {self.url}/certificate"
        if alg not in SUPPORTED_ALGS:
            self._fail("/certificate", None, f"announced algorithm {info['alg']!r}, which C2PA signing does not "
                       f"support", f"configure the service with a key for one of {', '.join(SUPPORTED_ALGS)}")
        try:
            chain = parse_chain(chain_pem, src)
            leaf = chain[0]
            alg_for_key(leaf.public_key(), alg)
            # The same checks a local key gets: c2pa-rs would reject these later with a vaguer message.
            check_validity(leaf, src, dt.datetime.now(dt.timezone.utc))
            check_profile(leaf, len(chain), src)
        except KeyConfigError as exc:
            raise RemoteSignerError(f"signing service {self.url}: {exc}", url=self.url) from None
        except ValueError as exc:  # alg_for_key: the algorithm does not fit the certificate's key
            self._fail("/certificate", None, f"announced {alg}, but {exc}",
                       "configure the service so its algorithm matches its certificate's key")
        if tsa is not None and not (isinstance(tsa, str) and tsa.startswith(("http://", "https://"))):
            self._fail("/certificate", None, "announced a tsa_url that is not an http(s) URL",
                       "fix the service's time-stamp authority setting, or pass tsa_url= here")
        return alg, chain_pem, tsa

    def _request(self, path: str, data: bytes | None) -> bytes:
        """GET (data None) or POST `path`; returns the 200 body or raises RemoteSignerError."""
        headers = {"Accept": "application/json" if data is None else "application/octet-stream"}
        if data is not None:
            headers["Content-Type"] = "application/octet-stream"
        if self._auth:
            headers["Authorization"] = self._auth
        request = urllib.request.Request(self.url + path, data=data, headers=headers,
                                         method="GET" if data is None else "POST")
        limit = _MAX_JSON if data is None else _MAX_SIGNATURE
        try:
            with self._opener.open(request, timeout=self._timeout) as response:
                status: int = response.status
                body: bytes = response.read(limit + 1)  # bounded: a broken service cannot exhaust memory
        except urllib.error.HTTPError as exc:
            self._http_error(path, exc)
        except (urllib.error.URLError, TimeoutError, http.client.HTTPException, OSError) as exc:
            reason = exc.reason if isinstance(exc, urllib.error.URLError) else exc
            self._fail(path, None, f"could not be reached ({_describe(reason)})",
                       f"start the signing service or correct the URL; the timeout is {self._timeout:g} s")
        if status != 200:
            self._fail(path, status, f"answered HTTP {status} instead of 200",
                       "check that the URL points at the signing service")
        if len(body) > limit:
            self._fail(path, None, f"returned more than {limit} bytes", "check that the URL points at the "
                       "signing service")
        return body

    def _http_error(self, path: str, exc: urllib.error.HTTPError) -> NoReturn:
        try:
            text = exc.read(_MAX_ERROR_TEXT).decode("utf-8", "replace").strip()
        except (OSError, http.client.HTTPException):
            text = ""
        finally:
            exc.close()
        fixes = {
            401: f"set the bearer token the service expects (token= or ${ENV_SIGNER_TOKEN})",
            403: "use a token the service allows to sign",
            404: "check the base URL: the service must serve /certificate and /sign under it",
            413: "the data to sign is larger than the service accepts; raise the service's body limit",
        }
        fix = fixes.get(exc.code, "see the signing service's log"
                        if exc.code >= 500 else "check the service's protocol version")
        if 300 <= exc.code < 400:
            fix = "use the final URL: redirects are not followed, so the token is not sent elsewhere"
        detail = f": {text}" if text else ""
        self._fail(path, exc.code, f"answered HTTP {exc.code}{detail}", fix)

    def _fail(self, path: str, status: int | None, problem: str, fix: str) -> NoReturn:
        message = f"signing service {self.url}{path} {problem}. Fix: {fix}."
        if self._auth:
            # The service's own text is echoed above; make sure it cannot echo the token back into a log.
            message = message.replace(self._auth.removeprefix("Bearer "), "***")
        raise RemoteSignerError(message, url=self.url, status=status)


def _describe(reason: object) -> str:
    if isinstance(reason, TimeoutError):
        return "timed out"
    if isinstance(reason, ConnectionRefusedError):
        return "connection refused"
    if isinstance(reason, OSError) and reason.strerror:
        return reason.strerror
    return str(reason) or type(reason).__name__

