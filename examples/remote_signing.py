"""Sign an AI-generated image through a signing service: this process never sees the private key.

Run: ``python examples/remote_signing.py`` (with ``python examples/signing_service.py`` running in another
terminal). Set $AIACT_SIGNER_URL for another service and $AIACT_SIGNER_TOKEN when it requires a token.
"""

from __future__ import annotations

import io
import os
import sys
import tempfile
from pathlib import Path

import numpy as np
from PIL import Image

from aiact_transparency.provenance.c2pa.manifest import read_manifest, sign_asset
from aiact_transparency.provenance.keys.remote import RemoteSigner, RemoteSignerError


def generated_png(size: int = 256) -> bytes:
    # Stands in for a model's output: a smooth colour field, made here so the example needs no model.
    y, x = np.mgrid[0:size, 0:size] / size
    rgb = np.stack([x, y, 0.5 + 0.5 * np.sin(6 * (x + y))], axis=-1)
    buf = io.BytesIO()
    Image.fromarray((rgb * 255).astype(np.uint8)).save(buf, "PNG")
    return buf.getvalue()


def main() -> None:
    url = os.environ.get("AIACT_SIGNER_URL", "http://127.0.0.1:8100")
    try:
        signer = RemoteSigner(url)  # fetches and checks the certificate chain; token from $AIACT_SIGNER_TOKEN
    except RemoteSignerError as exc:
        sys.exit(str(exc))
    print(signer)
    signed = sign_asset(
        generated_png(), "image/png", signer=signer, software_agent="remote-signing example", title="generated.png"
    )
    out = Path(tempfile.gettempdir()) / "aiact-remote-signed.png"  # not the cwd: keep checkouts clean
    out.write_bytes(signed)
    report = read_manifest(signed, "image/png")
    print(f"wrote {out} ({len(signed)} bytes)")
    print(f"  valid: {report.valid} ({report.validation_state}; trusted: {report.trusted})")
    print(f"  signer: {report.signer_common_name} issued by {report.signer_issuer}")
    print(f"  digital source type: {report.digital_source_type}")
    for note in report.notes:
        print(f"  note: {note}")


if __name__ == "__main__":
    main()
