"""`make demo`: every example behind one server on 127.0.0.1, on the embedded default config.

Set AIACT_CONFIG=path/to/aiact.yaml to try your own config; PORT to change the port.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import uvicorn

sys.path.insert(0, str(Path(__file__).resolve().parent))

from chat_app import create_app

HOST = "127.0.0.1"


def main() -> None:
    port = int(os.environ.get("PORT", "8000"))
    app = create_app()
    base = f"http://{HOST}:{port}"
    print(
        "\naiact-transparency demo (embedded default config; Ctrl+C to stop)\n"
        f"  Page with the AI banner:   {base}/            (try another browser language)\n"
        f"  Headers only:              curl -i {base}/health\n"
        f"  Chat stream (SSE):         curl -N {base}/v1/chat/completions -H 'content-type: application/json' "
        '-d \'{"stream": true, "messages": [{"role": "user", "content": "hi"}]}\'\n'
        f"  Discovery document:        {base}/.well-known/ai-disclosure\n",
        flush=True,
    )
    uvicorn.run(app, host=HOST, port=port, log_level="info")


if __name__ == "__main__":
    main()
