"""Everything that would fail at the first request fails in load_config, naming the file, the field and the fix.

Starlette builds middleware lazily, at the first request: a check left to TransparencyMiddleware.__init__ lets
`uvicorn app:app` start and answer every request with 500. So load_config runs them (config.check_startup).
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from aiact_transparency import ConfigError, TransparencyConfig, TransparencyMiddleware, load_config
from aiact_transparency.provenance import keys
from aiact_transparency.provenance.keys.certs import cert_pem, key_pem

from .chains import DAY, NOW, make_chain, write_pair

NO_FILE = "config (embedded defaults and AIACT_* environment)"


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def _signing(tmp_path: Path, cert_file: Path, key_file: Path) -> Path:
    return write(tmp_path / "aiact.yaml", f"images: {{signing: {{cert: '{cert_file}', key: '{key_file}'}}}}\n")


def _missing_cert(tmp_path: Path) -> Path:
    _, key_file = write_pair(tmp_path, *make_chain())
    return _signing(tmp_path, tmp_path / "absent-chain.pem", key_file)


def _missing_key(tmp_path: Path) -> Path:
    cert_file, _ = write_pair(tmp_path, *make_chain())
    return _signing(tmp_path, cert_file, tmp_path / "absent-key.pem")


def _mismatched(tmp_path: Path) -> Path:
    return _signing(tmp_path, *write_pair(tmp_path, *make_chain(), key=make_chain()[1].key))


def _wrong_key_type(tmp_path: Path) -> Path:
    # secp256k1 is a valid EC key, but no C2PA algorithm signs with it.
    return _signing(tmp_path, *write_pair(tmp_path, *make_chain(leaf_key=ec.generate_private_key(ec.SECP256K1()))))


def _small_rsa_key(tmp_path: Path) -> Path:
    small = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    return _signing(tmp_path, *write_pair(tmp_path, *make_chain(leaf_key=small)))


def _certificate_in_the_key_file(tmp_path: Path) -> Path:
    cert_file, key_file = write_pair(tmp_path, *make_chain())
    key_file.write_bytes(cert_file.read_bytes())
    return _signing(tmp_path, cert_file, key_file)


def _expired(tmp_path: Path) -> Path:
    return _signing(tmp_path, *write_pair(tmp_path, *make_chain(not_before=NOW - 100 * DAY, not_after=NOW - DAY)))


def _bad_timestamp_url(tmp_path: Path) -> Path:
    cert_file, key_file = write_pair(tmp_path, *make_chain())
    return write(tmp_path / "aiact.yaml", f"images: {{signing: {{cert: '{cert_file}', key: '{key_file}', "
                                          "timestamp_url: 'ftp://tsa.example'}}\n")


def _text(body: str) -> Callable[[Path], Path]:
    return lambda tmp_path: write(tmp_path / "aiact.yaml", body)


@pytest.mark.parametrize(("make", "expected"), [
    (_text("system: {provider: 株式会社アクメ}\n"), ["system.provider", "provider_ascii"]),
    (_text("banner: {default_language: tlh}\n"), ["banner.default_language", "'tlh' has no text", "banner.text.tlh"]),
    (_text("disclosure: {reviewed_by: Иван Петров}\n"), ["disclosure.reviewed_by", "AI-Disclosure header"]),
    (_missing_cert, ["images.signing.cert", "absent-chain.pem", "cannot be read"]),
    (_missing_key, ["images.signing.key", "absent-key.pem", "cannot be read"]),
    (_mismatched, ["images.signing.key", "does not belong"]),
    (_wrong_key_type, ["images.signing.key", "secp256k1"]),
    (_small_rsa_key, ["images.signing.key", "1024 bits"]),
    (_certificate_in_the_key_file, ["images.signing.key", "not a readable PEM private key"]),
    (_expired, ["images.signing.cert", "expired"]),
    (_bad_timestamp_url, ["images.signing.timestamp_url", "ftp://tsa.example"]),
], ids=["cjk-provider", "unknown-default-language", "unfoldable-reviewer", "missing-cert", "missing-key",
        "mismatched-pair", "secp256k1-key", "small-rsa-key", "certificate-as-key", "expired", "timestamp-url"])
def test_load_config_checks_what_would_fail_at_the_first_request(
    tmp_path: Path, make: Callable[[Path], Path], expected: list[str]
) -> None:
    path = make(tmp_path)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert message.startswith(f"{path}: "), message
    assert "Fix:" in message
    for fragment in expected:
        assert fragment in message
    for pem in tmp_path.glob("*.pem"):  # never the key (or any PEM body) in the message
        assert all(line not in message for line in pem.read_text().splitlines() if "-----" not in line)


def test_signing_environment_checked_at_load_config_without_a_file(monkeypatch: pytest.MonkeyPatch) -> None:
    ca, leaf = make_chain()
    monkeypatch.setenv(keys.ENV_CERT_PEM, cert_pem(leaf.cert, ca.cert).decode())
    monkeypatch.setenv(keys.ENV_KEY_PEM, key_pem(make_chain()[1].key).decode())
    with pytest.raises(ConfigError) as info:
        load_config()
    message = str(info.value)
    assert message.startswith(NO_FILE) and keys.ENV_KEY_PEM in message and "does not belong" in message


def test_signing_not_checked_when_images_are_not_signed(tmp_path: Path) -> None:
    # With images.c2pa off the signer is never built, so its settings cannot stop start-up.
    path = write(tmp_path / "aiact.yaml", "images: {c2pa: false, signing: {cert: a.pem, key: b.pem}}\n")
    assert load_config(path).images.c2pa is False


def test_load_config_does_not_create_the_development_chain(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(keys.ENV_KEYS_DIR, str(tmp_path / "keys"))
    load_config()
    assert not (tmp_path / "keys").exists()


def test_expiry_warning_logged_once_per_start(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    cert_file, key_file = write_pair(tmp_path, *make_chain(not_after=NOW + 5 * DAY))
    with caplog.at_level(logging.WARNING):
        config = load_config(_signing(tmp_path, cert_file, key_file))
        TransparencyMiddleware(_unused_app, config=config)
    assert [r.getMessage() for r in caplog.records].count(
        f"certificate file {cert_file}: the signing certificate expires on {leaf_expiry(cert_file)}; renew it soon"
    ) == 1


def leaf_expiry(cert_file: Path) -> str:
    from cryptography import x509

    return x509.load_pem_x509_certificates(cert_file.read_bytes())[0].not_valid_after_utc.isoformat()


async def _unused_app(scope: object, receive: object, send: object) -> None:
    raise AssertionError("not called")


def test_middleware_with_a_config_built_in_code_still_fails_at_construction() -> None:
    with pytest.raises(ConfigError, match=r"banner\.default_language"):
        TransparencyMiddleware(_unused_app, config=TransparencyConfig(banner={"default_language": "tlh"}))


def test_uvicorn_refuses_to_start_instead_of_serving_500(tmp_path: Path) -> None:
    # The deployment the issue describes, as an operator runs it: `uvicorn app:app` in a real process.
    write(tmp_path / "aiact.yaml", "system: {provider: 株式会社アクメ}\n")
    write(tmp_path / "app.py", (
        "from pathlib import Path\n"
        "from starlette.applications import Starlette\n"
        "from aiact_transparency import TransparencyMiddleware, load_config\n"
        "app = Starlette()\n"
        "app.add_middleware(TransparencyMiddleware, config=load_config(Path(__file__).with_name('aiact.yaml')))\n"
    ))
    try:
        result = subprocess.run(
            [sys.executable, "-m", "uvicorn", "app:app", "--host", "127.0.0.1", "--port", "0"],
            cwd=tmp_path, capture_output=True, text=True, timeout=60, env={**os.environ, "PYTHONPATH": str(tmp_path)},
        )
    except subprocess.TimeoutExpired:
        pytest.fail("uvicorn started with a config that cannot work")
    assert result.returncode != 0
    assert f"{tmp_path / 'aiact.yaml'}: system.provider" in result.stderr and "provider_ascii" in result.stderr


def test_a_development_keys_dir_that_cannot_exist_stops_load_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = write(tmp_path / "a-file", "not a folder")
    monkeypatch.setenv(keys.ENV_KEYS_DIR, str(blocker / "keys"))
    with pytest.raises(ConfigError) as info:
        load_config()
    message = str(info.value)
    assert message.startswith(f"{NO_FILE}: images.signing: ") and f"{blocker} is not a directory" in message
    assert keys.ENV_KEYS_DIR in message and "images.signing.cert" in message
    # Without image signing there is nothing to keep there.
    monkeypatch.setenv("AIACT_IMAGES__C2PA", "false")
    assert load_config().images.c2pa is False
