"""The verification examples of docs/lifecycle.md, "Notifications", run as written: each
accepts a delivery the service's signer made and refuses a tampered one."""

from __future__ import annotations

import base64
import json
import re
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from ledger.core.events import StoredEvent
from ledger.workers.webhooks import signed_headers

ROOT = Path(__file__).resolve().parents[3]
SECRET = "whsec_" + base64.b64encode(bytes(range(32))).decode()
EVENT = StoredEvent(1, "evt_" + "0" * 32, "usage.refused", 0,
                    b'{"type":"usage.refused","timestamp":"2026-01-01T00:00:00.000Z",'
                    b'"data":{"buyer":"0x' + b"ab" * 20 + b'"}}')


def block(language: str) -> str:
    """The `language` block of the Notifications section."""
    text = (ROOT / "docs" / "lifecycle.md").read_text("utf-8")
    section = text.split("## Notifications", 1)[1]
    (found,) = re.findall(rf"^```{language}\n(.*?)^```$", section, flags=re.S | re.M)
    return found


def delivery() -> tuple[bytes, dict[str, str]]:
    return EVENT.body, signed_headers(SECRET, EVENT, datetime.now(UTC))


def test_the_python_example_verifies_a_delivery() -> None:
    scope: dict[str, Any] = {}
    exec(block("python"), scope)
    body, headers = delivery()
    assert scope["receive"](body, headers, SECRET)["type"] == "usage.refused"
    with pytest.raises(scope["WebhookVerificationError"]):
        scope["receive"](body.replace(b"ab", b"cd", 1), headers, SECRET)


@pytest.mark.node
def test_the_javascript_example_verifies_a_delivery(tmp_path: Path) -> None:
    (tmp_path / "verify.mjs").write_text(block("js"), "utf-8")
    body, headers = delivery()
    tampered = body.replace(b"ab", b"cd", 1)
    (tmp_path / "run.mjs").write_text(f"""
import {{ verify }} from "./verify.mjs";
const headers = {json.dumps(headers)}, secret = {json.dumps(SECRET)};
console.log(verify(Buffer.from({json.dumps(body.decode())}), headers, secret).type);
try {{ verify(Buffer.from({json.dumps(tampered.decode())}), headers, secret); }}
catch (error) {{ console.log("refused: " + error.message); }}
""", "utf-8")
    node = shutil.which("node") or "node"
    out = subprocess.run([node, str(tmp_path / "run.mjs")], capture_output=True, text=True,
                         check=True).stdout.split("\n")
    assert out[:2] == ["usage.refused", "refused: bad signature"]
