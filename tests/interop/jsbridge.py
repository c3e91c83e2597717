"""Bridge from pytest to Digital Bazaar's JavaScript VC stack (``tests/interop/js/di.mjs``).

The JavaScript side is an *independent implementation*: what we sign must verify there, and
what it signs must verify here.  This module only runs it; it knows nothing about our own
``vc`` package.

- :func:`node_available` -- ``None`` if a usable ``node`` is on PATH, else the reason.
- :func:`ensure_installed` -- runs ``npm ci`` in ``tests/interop/js`` once when
  ``node_modules`` is missing or does not match ``package-lock.json``; ``None`` on success,
  else the reason (for a skip message).
- :func:`run_js` -- one request, one JSON answer.  By default it goes to a long-lived
  ``node di.mjs serve`` process (JSON lines; a node start costs ~200 ms, a served call a few
  ms); ``oneshot=True`` or ``FURUSATO_INTEROP_ONESHOT=1`` runs ``node di.mjs <command>``
  per call instead, which is easier to debug (``echo '{...}' | node di.mjs verify-vc``).
- ``js/sdjwt.mjs`` speaks the same protocol for SD-JWT / SD-JWT VC (the OpenWallet
  Foundation's ``@sd-jwt/sd-jwt-vc``); pass ``script=SDJWT_SCRIPT`` or use the ``sdjwt_*``
  methods of :class:`JsBridge`.  Each script has its own ``serve`` process.

A harness failure (bad request, crash, timeout) raises :class:`JsHarnessError` with node's
stderr.  A failed *verification* is a normal answer: ``{"verified": false, "errors": [...]}``.
"""

from __future__ import annotations

import atexit
import contextlib
import hashlib
import itertools
import json
import os
import queue
import re
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import IO, Any, Final

__all__ = [
    "DI_SCRIPT",
    "JS_DIR",
    "REQUIRE_ENV",
    "SDJWT_SCRIPT",
    "JsBridge",
    "JsHarnessError",
    "JsServer",
    "ensure_installed",
    "interop_required",
    "node_available",
    "run_js",
    "run_js_oneshot",
    "shutdown",
]

JS_DIR: Final = Path(__file__).resolve().parent / "js"
DI_SCRIPT: Final = JS_DIR / "di.mjs"
SDJWT_SCRIPT: Final = JS_DIR / "sdjwt.mjs"
REQUIRE_ENV: Final = "FURUSATO_REQUIRE_INTEROP"
ONESHOT_ENV: Final = "FURUSATO_INTEROP_ONESHOT"
CALL_TIMEOUT: Final = 60.0
INSTALL_TIMEOUT: Final = 600.0
MIN_NODE_MAJOR: Final = 18

JsonObject = dict[str, Any]


class JsHarnessError(RuntimeError):
    """The JavaScript harness itself failed (not a verification result)."""

    def __init__(self, command: str, message: str, stderr: str = "") -> None:
        self.command = command
        self.stderr = stderr
        text = f"JS interop harness failed on {command!r}: {message}"
        if stderr.strip():
            text += f"\n--- node stderr ---\n{stderr.strip()}"
        super().__init__(text)


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in {"1", "true", "yes", "on"}


def interop_required() -> bool:
    """True when ``FURUSATO_REQUIRE_INTEROP`` is set: a missing harness is a failure."""
    return _truthy(os.environ.get(REQUIRE_ENV))


# --------------------------------------------------------------------------- availability


def _node() -> str | None:
    return shutil.which("node")


def node_available() -> str | None:
    """``None`` if a usable ``node`` (>= 18) is on PATH, else why not."""
    node = _node()
    if node is None:
        return "node is not on PATH"
    try:
        proc = subprocess.run(
            [node, "--version"], capture_output=True, text=True, timeout=30, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"cannot run {node} --version: {exc}"
    match = re.match(r"v(\d+)\.", proc.stdout.strip())
    if proc.returncode != 0 or match is None:
        return f"unexpected output of {node} --version: {proc.stdout!r} {proc.stderr!r}"
    if int(match.group(1)) < MIN_NODE_MAJOR:
        return f"node {proc.stdout.strip()} is too old (need >= {MIN_NODE_MAJOR})"
    return None


def _locked_versions(lock: Mapping[str, Any]) -> dict[str, str]:
    packages = lock.get("packages", {})
    if not isinstance(packages, dict):
        return {}
    return {
        name: str(entry.get("version"))
        for name, entry in packages.items()
        if name.startswith("node_modules/") and isinstance(entry, dict)
    }


def _installed_matches_lock() -> bool:
    """Does node_modules hold exactly what package-lock.json pins?

    npm writes ``node_modules/.package-lock.json`` (the "hidden lockfile") on every
    install; comparing its package versions with package-lock.json detects a missing,
    partial or stale install without running npm.
    """
    hidden = JS_DIR / "node_modules" / ".package-lock.json"
    try:
        lock = json.loads((JS_DIR / "package-lock.json").read_text("utf-8"))
        installed = json.loads(hidden.read_text("utf-8"))
    except (OSError, ValueError):
        return False
    wanted = _locked_versions(lock)
    if not wanted or _locked_versions(installed) != wanted:
        return False
    return all((JS_DIR / name / "package.json").is_file() for name in wanted)


_install_lock = threading.Lock()
_install_result: list[str | None] = []  # memo: [] = not tried yet


@contextlib.contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    """Serialise installs across processes (e.g. pytest-xdist workers) where possible."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not POSIX
        yield
        return
    with path.open("a") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _install() -> str | None:
    reason = node_available()
    if reason is not None:
        return reason
    if not (JS_DIR / "package-lock.json").is_file():
        return f"{JS_DIR / 'package-lock.json'} is missing"
    if _installed_matches_lock():
        return None
    npm = shutil.which("npm")
    if npm is None:
        return "npm is not on PATH (needed once to install tests/interop/js/node_modules)"
    # the lock file lives outside the repository (nothing untracked is left behind)
    tag = hashlib.sha256(str(JS_DIR).encode()).hexdigest()[:16]
    with _file_lock(Path(tempfile.gettempdir()) / f"furusato-interop-npm-{tag}.lock"):
        if _installed_matches_lock():  # another process installed meanwhile
            return None
        try:
            proc = subprocess.run(
                [npm, "ci", "--no-audit", "--no-fund"],
                cwd=JS_DIR,
                capture_output=True,
                text=True,
                timeout=INSTALL_TIMEOUT,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            return f"npm ci in {JS_DIR} failed: {exc}"
        if proc.returncode != 0:
            tail = (proc.stderr or proc.stdout).strip()[-2000:]
            return f"npm ci in {JS_DIR} failed (exit {proc.returncode}): {tail}"
    if not _installed_matches_lock():
        return f"npm ci in {JS_DIR} did not produce the locked packages"
    return None


def ensure_installed() -> str | None:
    """Install the pinned JS packages once per process; ``None`` if ready, else why not."""
    with _install_lock:
        if not _install_result:
            _install_result.append(_install())
        return _install_result[0]


# --------------------------------------------------------------------------- one-shot


def _dump(payload: Mapping[str, Any]) -> str:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"))


def _require_node(command: str) -> str:
    node = _node()
    if node is None:
        raise JsHarnessError(command, "node is not on PATH")
    return node


def _as_object(command: str, text: str, stderr: str) -> JsonObject:
    try:
        answer = json.loads(text)
    except ValueError as exc:
        raise JsHarnessError(
            command, f"answer is not JSON ({exc}): {text[:500]!r}", stderr
        ) from exc
    if not isinstance(answer, dict):
        raise JsHarnessError(command, f"answer is not a JSON object: {text[:500]!r}", stderr)
    return answer


def run_js_oneshot(
    command: str,
    payload: Mapping[str, Any],
    *,
    timeout: float = CALL_TIMEOUT,
    script: Path = DI_SCRIPT,
) -> JsonObject:
    """Run ``node di.mjs <command>`` (or *script*) with *payload* on stdin; return its answer."""
    node = _require_node(command)
    try:
        proc = subprocess.run(
            [node, str(script), command],
            cwd=JS_DIR,
            input=_dump(payload),
            capture_output=True,
            text=True,
            encoding="utf-8",
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        stderr = exc.stderr if isinstance(exc.stderr, str) else ""
        raise JsHarnessError(command, f"timed out after {timeout:g} s", stderr) from exc
    except OSError as exc:
        raise JsHarnessError(command, f"cannot start node: {exc}") from exc
    if proc.returncode != 0:
        message = f"exit status {proc.returncode}"
        with contextlib.suppress(ValueError, TypeError, AttributeError):
            message = str(json.loads(proc.stderr.strip().splitlines()[-1])["error"]["message"])
        raise JsHarnessError(command, message, proc.stderr)
    return _as_object(command, proc.stdout, proc.stderr)


# --------------------------------------------------------------------------- serve mode


class JsServer:
    """A long-lived ``node di.mjs serve`` process answering JSON lines, one call at a time.

    Thread-safe (calls are serialised).  If node dies or a call times out, the process is
    discarded and the next call starts a new one.
    """

    def __init__(self, *, timeout: float = CALL_TIMEOUT, script: Path = DI_SCRIPT) -> None:
        self.timeout = timeout
        self.script = script
        self._lock = threading.Lock()
        self._proc: subprocess.Popen[str] | None = None
        self._answers: queue.Queue[str | None] = queue.Queue()
        self._stderr: IO[str] | None = None
        self._ids = itertools.count(1)

    def _start(self) -> subprocess.Popen[str]:
        node = _require_node("serve")
        self._stderr = tempfile.TemporaryFile("w+", encoding="utf-8")  # noqa: SIM115
        proc = subprocess.Popen(
            [node, str(self.script), "serve"],
            cwd=JS_DIR,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
            encoding="utf-8",
            bufsize=1,
        )
        self._answers = queue.Queue()
        answers = self._answers
        stdout = proc.stdout
        assert stdout is not None

        def pump() -> None:
            for line in stdout:
                answers.put(line)
            answers.put(None)  # EOF: node exited

        threading.Thread(target=pump, name=f"{self.script.name}-serve-reader", daemon=True).start()
        self._proc = proc
        return proc

    def _stderr_text(self) -> str:
        if self._stderr is None:
            return ""
        with contextlib.suppress(OSError, ValueError):
            self._stderr.flush()
            self._stderr.seek(0)
            return self._stderr.read()[-8000:]
        return ""

    def _discard(self) -> str:
        """Stop the process; return what it wrote on stderr."""
        proc, self._proc = self._proc, None
        if proc is not None:
            with contextlib.suppress(OSError):
                if proc.stdin is not None:
                    proc.stdin.close()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
        stderr = self._stderr_text()
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None
        return stderr

    def call(self, command: str, payload: Mapping[str, Any]) -> JsonObject:
        with self._lock:
            proc = self._proc
            if proc is None or proc.poll() is not None:
                if proc is not None:
                    self._discard()
                proc = self._start()
            request_id = next(self._ids)
            line = _dump({"id": request_id, "command": command, "payload": payload})
            assert proc.stdin is not None
            try:
                proc.stdin.write(line + "\n")
                proc.stdin.flush()
            except OSError as exc:
                raise JsHarnessError(
                    command, f"cannot write to node: {exc}", self._discard()
                ) from exc
            try:
                raw = self._answers.get(timeout=self.timeout)
            except queue.Empty:
                proc.kill()
                raise JsHarnessError(
                    command, f"no answer within {self.timeout:g} s (node killed)", self._discard()
                ) from None
            if raw is None:
                raise JsHarnessError(command, "node exited unexpectedly", self._discard())
            answer = _as_object(command, raw, "")
            if answer.get("id") != request_id:
                raise JsHarnessError(
                    command,
                    f"answer id {answer.get('id')!r} != request id {request_id}",
                    self._discard(),
                )
            if answer.get("ok") is not True:
                error = answer.get("error")
                message = error.get("message") if isinstance(error, dict) else None
                stack = error.get("stack") if isinstance(error, dict) else None
                raise JsHarnessError(command, str(message or answer), str(stack or ""))
            result = answer.get("result")
            if not isinstance(result, dict):
                raise JsHarnessError(command, f"result is not a JSON object: {raw[:500]!r}")
            return result

    def close(self) -> None:
        with self._lock:
            self._discard()


_shared_servers: dict[Path, JsServer] = {}
_shared_lock = threading.Lock()


def _server(script: Path = DI_SCRIPT) -> JsServer:
    with _shared_lock:
        server = _shared_servers.get(script)
        if server is None:
            server = _shared_servers[script] = JsServer(script=script)
            atexit.register(server.close)
        return server


def shutdown() -> None:
    """Stop the shared ``serve`` processes (each is restarted on its next call)."""
    with _shared_lock:
        servers = list(_shared_servers.values())
    for server in servers:
        server.close()


def run_js(
    command: str,
    payload: Mapping[str, Any],
    *,
    oneshot: bool | None = None,
    script: Path = DI_SCRIPT,
) -> JsonObject:
    """Run one harness command (of ``di.mjs``, or *script*) and return its JSON answer.

    Uses the shared ``serve`` process unless *oneshot* (or ``FURUSATO_INTEROP_ONESHOT=1``).
    Raises :class:`JsHarnessError` on a harness failure.
    """
    if oneshot is None:
        oneshot = _truthy(os.environ.get(ONESHOT_ENV))
    if oneshot:
        return run_js_oneshot(command, payload, script=script)
    return _server(script).call(command, payload)


# --------------------------------------------------------------------------- facade


def _without_none(**fields: Any) -> JsonObject:
    return {k: v for k, v in fields.items() if v is not None}


class JsBridge:
    """What the ``js`` fixture returns: the functions above plus typed shortcuts.

    Key arguments are a private JWK (``{kty, crv, x, [y], d}``) or
    ``{"publicKeyMultibase", "secretKeyMultibase"}``.  *documents* maps extra URLs (e.g.
    did:web controller documents) to JSON documents for the JS static loader.
    """

    def __init__(self, *, oneshot: bool | None = None) -> None:
        self.oneshot = oneshot

    @staticmethod
    def node_available() -> str | None:
        return node_available()

    @staticmethod
    def ensure_installed() -> str | None:
        return ensure_installed()

    def run_js(self, command: str, payload: Mapping[str, Any]) -> JsonObject:
        return run_js(command, payload, oneshot=self.oneshot)

    def sign_vc(
        self,
        credential: Mapping[str, Any],
        key: Mapping[str, Any],
        *,
        suite: str = "eddsa-rdfc-2022",
        verification_method: str | None = None,
        created: str | None = None,
        documents: Mapping[str, Any] | None = None,
    ) -> JsonObject:
        answer = self.run_js(
            "sign-vc",
            _without_none(
                credential=credential,
                key=key,
                suite=suite,
                verificationMethod=verification_method,
                created=created,
                documents=documents,
            ),
        )
        vc: JsonObject = answer["verifiableCredential"]
        return vc

    def verify_vc(
        self,
        credential: Mapping[str, Any],
        *,
        check_controller: bool = True,
        now: str | None = None,
        documents: Mapping[str, Any] | None = None,
    ) -> JsonObject:
        return self.run_js(
            "verify-vc",
            _without_none(
                verifiableCredential=credential,
                checkController=check_controller,
                now=now,
                documents=documents,
            ),
        )

    def sign_vp(
        self,
        presentation: Mapping[str, Any],
        key: Mapping[str, Any],
        *,
        challenge: str,
        domain: str | None = None,
        suite: str = "eddsa-rdfc-2022",
        verification_method: str | None = None,
        created: str | None = None,
        documents: Mapping[str, Any] | None = None,
    ) -> JsonObject:
        answer = self.run_js(
            "sign-vp",
            _without_none(
                presentation=presentation,
                key=key,
                suite=suite,
                challenge=challenge,
                domain=domain,
                verificationMethod=verification_method,
                created=created,
                documents=documents,
            ),
        )
        vp: JsonObject = answer["verifiablePresentation"]
        return vp

    def verify_vp(
        self,
        presentation: Mapping[str, Any],
        *,
        challenge: str,
        domain: str | None = None,
        check_controller: bool = True,
        now: str | None = None,
        documents: Mapping[str, Any] | None = None,
    ) -> JsonObject:
        return self.run_js(
            "verify-vp",
            _without_none(
                verifiablePresentation=presentation,
                challenge=challenge,
                domain=domain,
                checkController=check_controller,
                now=now,
                documents=documents,
            ),
        )

    def canonize(
        self, document: Mapping[str, Any], *, documents: Mapping[str, Any] | None = None
    ) -> str:
        answer = self.run_js("canonize", _without_none(document=document, documents=documents))
        nquads = answer["nquads"]
        if not isinstance(nquads, str):
            raise JsHarnessError("canonize", f"nquads is not a string: {nquads!r}")
        return nquads

    def version(self) -> JsonObject:
        """Node's version and the installed version of every package pinned in package.json.

        ``di.mjs`` reports Digital Bazaar's packages, ``sdjwt.mjs`` the ``@sd-jwt`` ones: both
        scripts share one package.json, so the answer merges the two.
        """
        answer = self.run_js("version", {})
        packages = {**answer.get("packages", {}), **self.sdjwt_version()["packages"]}
        return {**answer, "packages": packages}

    # SD-JWT / SD-JWT VC (js/sdjwt.mjs: @sd-jwt/sd-jwt-vc). Claim paths as in vc/sdjwt.py.

    def run_sdjwt(self, command: str, payload: Mapping[str, Any]) -> JsonObject:
        return run_js(command, payload, oneshot=self.oneshot, script=SDJWT_SCRIPT)

    def sdjwt_issue(
        self,
        claims: Mapping[str, Any],
        key: Mapping[str, Any],
        *,
        kid: str,
        disclosable: Iterable[str] = (),
        typ: str | None = None,
        decoys: int | None = None,
    ) -> str:
        """Issue with ``SDJwtVcInstance.issue``; *key* is a private JWK (Ed25519 or P-256)."""
        answer = self.run_sdjwt(
            "issue",
            _without_none(
                claims=claims,
                disclosable=list(disclosable),
                key=key,
                kid=kid,
                typ=typ,
                decoys=decoys,
            ),
        )
        return str(answer["sdJwt"])

    def sdjwt_present(
        self,
        sd_jwt: str,
        *,
        disclose: Iterable[str],
        holder_key: Mapping[str, Any] | None = None,
        nonce: str | None = None,
        audience: str | None = None,
        iat: int | None = None,
    ) -> str:
        """Present with ``SDJwtVcInstance.present``; a KB-JWT when *holder_key* is given."""
        kb = None if holder_key is None else {"nonce": nonce, "aud": audience, "iat": iat}
        answer = self.run_sdjwt(
            "present",
            _without_none(sdJwt=sd_jwt, disclose=list(disclose), holderKey=holder_key, kb=kb),
        )
        return str(answer["presentation"])

    def sdjwt_verify(
        self,
        sd_jwt: str,
        *,
        issuer_key: Mapping[str, Any],
        now: int,
        nonce: str | None = None,
        skew_seconds: int | None = None,
    ) -> JsonObject:
        """``SDJwtVcInstance.verify``; Key Binding is required when *nonce* is given.

        Answers ``{"verified": true, "payload", "header", "kb"}`` or
        ``{"verified": false, "errors": [...]}``.
        """
        return self.run_sdjwt(
            "verify",
            _without_none(
                sdJwt=sd_jwt, issuerKey=issuer_key, now=now, nonce=nonce, skewSeconds=skew_seconds
            ),
        )

    def sdjwt_decode(self, sd_jwt: str) -> JsonObject:
        """Claims, presentable keys and Disclosures as the library decodes them (no checks)."""
        return self.run_sdjwt("decode", {"sdJwt": sd_jwt})

    def sdjwt_version(self) -> JsonObject:
        return self.run_sdjwt("version", {})

    @staticmethod
    def close() -> None:
        shutdown()
