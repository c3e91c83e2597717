"""``furusato-issuer demo``: the whole story on the embedded default, in one command.

Everything is real and runs on this machine: the issuer service (SQLite in the demo directory)
on a loopback port with two municipalities, the national registry signed by its operator, the
resident's encrypted wallet, the offline verifier with its cache — driven through the same
commands a person would type (``furusato-wallet``, ``furusato-verifier``,
``furusato-issuer registry``), run in this process so the story takes seconds, not minutes.
The only stand-in is the My Number Card: a demo JPKI hierarchy (:mod:`issuer.identity.testpki`)
whose root is the demo issuer's trust anchor, so the identity check is the real one.

The story (each step printed in Japanese, or English with ``--lang en``; each outcome recorded
in ``steps.json`` for a program to check):

1. 厚真町 and 中野市 start issuing; 2. the registry operator signs the national registry;
3. a resident (living in 千代田区) registers with both (basic); 4. volunteers three times in
厚真町 (check-in QR codes staff printed); 5. applies for premium there and proves identity with
the card; 6. staff approve; 7. the wallet receives the premium credential (the basic one of
厚真町 is revoked); 8. the wallet lists what it holds; 9. a garbage point syncs its verifier;
10. shows a QR there (PNG and terminal); 11. at a nursery, signs the nursery's challenge, and a
copy of the earlier QR is refused; 12. shows the 中野市 registration at its community centre;
13. 中野市 revokes that registration, and the next check fails.
"""

from __future__ import annotations

import base64
import io
import json
import os
import secrets
import shlex
import shutil
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, redirect_stderr, redirect_stdout
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, NoReturn

import click
import httpx
from cryptography.hazmat.primitives import serialization

from issuer.app import create_app
from issuer.auth import create_token
from issuer.bootstrap import Services, create_stored_secret, open_services
from issuer.identity.providers import providers_from_settings
from issuer.identity.testpki import CA, Card, Person, jpki_name, new_key, root_ca
from issuer.serve import BackgroundServer, free_port
from issuer.settings import Settings
from issuer.tenants import create_tenant
from vc.dates import format_datetime

PREMIUM_LG = "015814"  # 北海道厚真町: volunteering there, premium
BASIC_LG = "202118"  # 長野県中野市: basic
MARKER = ".furusato-demo"
PASSPHRASE = "demo passphrase (change me)"  # noqa: S105 -- the demo wallet's, shown to the reader
REGISTRY_SECRET = "demo registry secret (change me)"  # noqa: S105 -- likewise
HTTP_TIMEOUT = 30.0
# An invented person living in 千代田区 (neither demo municipality is her home).
RESIDENT = Person("見本　さくら", "419900401", "2", "東京都千代田区見本町一丁目２番３号")
SITES = ("雪かきボランティア", "夏祭りの準備", "河川敷の清掃")
POLICIES: dict[str, dict[str, Any]] = {
    "garbage-point": {"name": "厚真町 ごみ集積所", "municipalities": [PREMIUM_LG]},
    "nursery": {
        "name": "厚真町 こども園",
        "tiers": ["premium"],
        "municipalities": [PREMIUM_LG],
        "requireChallenge": True,
    },
    "community-centre": {"name": "中野市 公民館", "municipalities": [BASIC_LG]},
}


class DemoError(Exception):
    """A step did not come out as the story expects (the reason is in the step's record)."""


@dataclass
class Step:
    number: int
    name: str
    ok: bool = False
    detail: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {"step": self.number, "name": self.name, "ok": self.ok, **self.detail}


@dataclass
class Story:
    """The narrator: prints in one language, runs the tools, records each step's outcome."""

    out: Path
    lang: str
    echo: Callable[[str], None]
    steps: list[Step] = field(default_factory=list)

    def say(self, ja: str, en: str) -> None:
        self.echo(en if self.lang == "en" else ja)

    def begin(self, name: str, ja: str, en: str) -> Step:
        step = Step(len(self.steps) + 1, name)
        self.steps.append(step)
        self.echo("")
        self.say(f"[{step.number}] {ja}", f"[{step.number}] {en}")
        return step

    def done(self, step: Step, ok: bool, **detail: Any) -> None:
        """Record the step's outcome; the story stops at the first that went wrong."""
        step.ok = ok
        step.detail.update(detail)
        if not ok:
            raise DemoError(step.name)

    def fail(self, step: Step, **detail: Any) -> NoReturn:
        step.detail.update(detail)
        raise DemoError(step.name)

    def shown(self, args: Sequence[str | Path]) -> str:
        """A command line as the reader would type it in the demo directory."""
        parts = []
        for arg in args:
            text = str(arg)
            if isinstance(arg, Path) and arg.is_relative_to(self.out):
                text = str(arg.relative_to(self.out)) or "."
            parts.append(shlex.quote(text if len(text) <= 60 else text[:57] + "…"))
        return " ".join(parts)

    def run(
        self,
        tool: str,
        args: Sequence[str | Path],
        *,
        show: bool = True,
        env: dict[str, str] | None = None,
    ) -> tuple[int, str]:
        """Run one of our commands in-process; echo ``$ command`` and its output, indented."""
        command = _tools()[tool]
        if show:
            self.echo(f"  $ {self.shown([tool, *args])}")
        stdout, stderr = io.StringIO(), io.StringIO()
        with _environment(env or {}), redirect_stdout(stdout), redirect_stderr(stderr):
            try:
                command.main([str(a) for a in args], prog_name=tool, standalone_mode=True)
                code = 0
            except SystemExit as exit_:
                code = exit_.code if isinstance(exit_.code, int) else int(bool(exit_.code))
        if show:
            for line in (stdout.getvalue() + stderr.getvalue()).rstrip("\n").splitlines():
                self.echo(f"    {line}")
        return code, stdout.getvalue()

    def wallet(self, *args: str | Path, show: bool = True) -> tuple[int, str]:
        return self.run(
            "furusato-wallet",
            ["--wallet-dir", self.out / "wallet", "--lang", self.lang, *args],
            show=show,
            env={"FURUSATO_WALLET_PASSPHRASE": PASSPHRASE},
        )

    def verify(
        self, place: str, source: str | Path, *extra: str, label: str | None = None
    ) -> tuple[int, dict[str, Any]]:
        """``furusato-verifier verify`` at ``place`` (its policy): shown, then its JSON kept
        as ``results/<label>.json`` (default: the place)."""
        args: list[str | Path] = [
            "verify",
            source,
            "--cache-dir",
            self.out / "verifier-cache",
            "--policy",
            self.out / "policies" / f"{place}.json",
            *extra,
        ]
        self.run("furusato-verifier", [*args, "--lang", self.lang])
        code, text = self.run("furusato-verifier", [*args, "--json"], show=False)
        result: dict[str, Any] = json.loads(text) if text.strip() else {}
        results = self.out / "results"
        results.mkdir(exist_ok=True)
        (results / f"{label or place}.json").write_text(
            json.dumps(result, ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
        )
        return code, result


def _tools() -> dict[str, click.Command]:
    from issuer.cli import main as issuer_main
    from verifier.cli import main as verifier_main
    from wallet_cli.cli import main as wallet_main

    return {
        "furusato-issuer": issuer_main,
        "furusato-wallet": wallet_main,
        "furusato-verifier": verifier_main,
    }


@contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def prepare_directory(out: Path) -> bool:
    """Make ``out`` ready: new, empty, or an earlier demo's (replaced).  False when it holds
    anything else — the demo never deletes files it did not make."""
    if out.exists():
        if not out.is_dir():
            return False
        if (out / MARKER).is_file():
            shutil.rmtree(out)
        elif any(out.iterdir()):
            return False
    out.mkdir(parents=True, exist_ok=True)
    (out / MARKER).write_text("furusato-issuer demo\n", encoding="utf-8")
    return True


@dataclass
class DemoPKI:
    """The demo's stand-in for J-LIS: a root, the 署名用 CA and the resident's card."""

    root: CA
    intermediate: CA
    card: Card

    @classmethod
    def create(cls, now: datetime) -> DemoPKI:
        root = root_ca(jpki_name("JPKI for digital signature", cn="Demo Root CA"), new_key())
        intermediate = root.sub_ca(
            jpki_name("JPKI for digital signature", cn="Demo Signing CA"), new_key()
        )
        card = DemoPKI._card(root, intermediate, now)
        return cls(root, intermediate, card)

    @staticmethod
    def _card(root: CA, intermediate: CA, now: datetime) -> Card:
        from issuer.identity.testpki import TestPKI

        key = new_key()  # the card's; the test hierarchy's other keys are not needed here
        pki = TestPKI(root, intermediate, root, key, key, key)
        return pki.leaf(
            RESIDENT,
            key=key,
            not_before=now - timedelta(days=30),
            not_after=now + timedelta(days=365 * 5),
        )

    def write(self, directory: Path, now: datetime) -> tuple[Path, Path]:
        directory.mkdir(parents=True, exist_ok=True)
        anchors = directory / "demo-root.pem"
        anchors.write_bytes(self.root.pem)
        crl = directory / "demo-signing-ca.crl"
        crl.write_bytes(
            self.intermediate.crl(
                (), this_update=now - timedelta(hours=1), next_update=now + timedelta(days=1)
            )
        )
        (directory / "resident-card.pem").write_bytes(
            self.card.certificate.public_bytes(serialization.Encoding.PEM)
        )
        return anchors, crl


def _start_issuer(out: Path, pki: DemoPKI, now: datetime) -> tuple[Services, dict[str, str], int]:
    anchors, crl = pki.write(out / "jpki", now)
    port = free_port()
    data_dir = out / "issuer"
    secret = create_stored_secret(data_dir)
    settings = Settings(
        data_dir=data_dir,
        secret=secret,
        public_url=f"http://localhost:{port}",
        jpki_anchors=anchors,
        jpki_crls=(str(crl),),
    )
    svc = open_services(settings, secret, pool_size=5)
    svc.identity = providers_from_settings(settings)
    tokens: dict[str, str] = {}
    with svc.db.transaction() as session:
        for lg_code in (PREMIUM_LG, BASIC_LG):
            create_tenant(
                session,
                svc.ring,
                lg_code=lg_code,
                public_url=settings.public_url,
                did_method="web",
                now=now,
                random_bytes=secrets.token_bytes,
                actor="demo",
            )
            tokens[lg_code] = create_token(
                session, lg_code, "admin", name="demo staff", now=now, actor="demo"
            )
    return svc, tokens, port


def _held(story: Story) -> list[dict[str, Any]]:
    code, text = story.wallet("list", "--json", show=False)
    if code != 0:
        raise DemoError("wallet list")
    listed: list[dict[str, Any]] = json.loads(text)
    return listed


def _find(held: list[dict[str, Any]], lg_code: str, tier: str) -> dict[str, Any] | None:
    """The wallet's registration of ``lg_code`` at ``tier`` (the newest when several)."""
    found = None
    for row in held:
        if row.get("kind") == "registration" and (row.get("lgCode"), row.get("tier")) == (
            lg_code,
            tier,
        ):
            found = row
    return found


def run_demo(*, out_dir: Path, lang: str, echo: Callable[[str], None]) -> bool:
    """Tell the story into ``out_dir`` (prepared by :func:`prepare_directory`); True when every
    step came out as expected.  ``steps.json`` records each step whatever happens."""
    story = Story(out_dir, lang, echo)
    now = datetime.now(UTC)
    story.say(
        f"ふるさと住民登録の実演です。ファイルは {out_dir} に残ります。",
        f"The furusato registration, start to end. Files are kept in {out_dir}.",
    )
    pki = DemoPKI.create(now)
    svc, tokens, port = _start_issuer(out_dir, pki, now)
    try:
        with BackgroundServer(create_app(svc), port, host_name="localhost") as server:
            _Chapters(story, svc, tokens, server.url, pki).tell()
    except DemoError:
        pass
    except Exception as exc:  # a bug or the machine (a port, the disk): said, not a traceback
        if story.steps:
            story.steps[-1].ok = False
            story.steps[-1].detail["error"] = type(exc).__name__
        story.say(f"エラー: {type(exc).__name__}: {exc}", f"error: {type(exc).__name__}: {exc}")
    finally:
        svc.close()
        (out_dir / "steps.json").write_text(
            json.dumps([s.to_json() for s in story.steps], ensure_ascii=False, indent=2) + "\n",
            encoding="utf-8",
        )
    ok = bool(story.steps) and all(s.ok for s in story.steps) and len(story.steps) == 13
    story.echo("")
    if ok:
        story.say(
            "実演は期待どおりに終わりました。残したファイル:",
            "The demo ended as expected. The files it left:",
        )
        for name, ja, en in _FILES:
            story.say(f"  {name:<18} {ja}", f"  {name:<18} {en}")
        story.say(
            "続けて試すには (例): cd "
            f"{shlex.quote(str(out_dir))} && FURUSATO_WALLET_PASSPHRASE='{PASSPHRASE}' "
            "furusato-wallet --wallet-dir wallet list",
            "To go on (for example): cd "
            f"{shlex.quote(str(out_dir))} && FURUSATO_WALLET_PASSPHRASE='{PASSPHRASE}' "
            "furusato-wallet --wallet-dir wallet list",
        )
    else:
        failed = next((s for s in story.steps if not s.ok), None)
        where = f"[{failed.number}] {failed.name}" if failed else "-"
        story.say(
            f"実演で予期しない結果がありました: {where} (steps.json を参照)",
            f"The demo had an unexpected outcome: {where} (see steps.json)",
        )
    return ok


_FILES = (
    (
        "issuer/",
        "発行者のデータ (SQLite と鍵を守る秘密)",
        "the issuer's data (SQLite, sealing secret)",
    ),
    ("registry/", "全国レジストリ (運営者の鍵と署名済み JWS)", "the national registry and its key"),
    (
        "wallet/",
        f"住民のウォレット (暗号化、パスフレーズ「{PASSPHRASE}」)",
        f"the resident's wallet (encrypted, passphrase '{PASSPHRASE}')",
    ),
    ("verifier-cache/", "検証アプリのキャッシュ", "the verifier's cache"),
    ("policies/", "各施設の受付条件", "each place's policy"),
    ("qr-*.png", "提示した QR コード", "the QR codes shown"),
    ("results/", "検証結果 (JSON)", "verification results (JSON)"),
    ("jpki/", "デモ用の本人確認 CA と試験カード", "the demo identity CA and test card"),
    ("steps.json", "各ステップの結果", "each step's outcome"),
)


@dataclass
class _Chapters:
    story: Story
    svc: Services
    tokens: dict[str, str]
    url: str
    pki: DemoPKI
    held: list[dict[str, Any]] = field(default_factory=list)

    def staff(self, lg_code: str) -> httpx.Client:
        return httpx.Client(
            base_url=self.url,
            headers={"Authorization": f"Bearer {self.tokens[lg_code]}"},
            timeout=HTTP_TIMEOUT,
            trust_env=False,
        )

    def tell(self) -> None:
        for chapter in (
            self.municipalities,
            self.registry,
            self.register,
            self.activities,
            self.apply,
            self.approve,
            self.receive_premium,
            self.wallet_list,
            self.sync,
            self.garbage_point,
            self.nursery,
            self.community_centre,
            self.revoke,
        ):
            chapter()

    # 1
    def municipalities(self) -> None:
        s = self.story
        step = s.begin(
            "issuer",
            "2つの自治体 (北海道厚真町・長野県中野市) が発行を始めます (SQLite、ローカルで起動)",
            "Two municipalities (厚真町, Hokkaido; 中野市, Nagano) start issuing (SQLite, local)",
        )
        dids = {}
        for lg_code in (PREMIUM_LG, BASIC_LG):
            answer = httpx.get(f"{self.url}/lg/{lg_code}/did.json", timeout=HTTP_TIMEOUT)
            if answer.status_code == 200:
                dids[lg_code] = answer.json()["id"]
                s.echo(f"    {lg_code}  {dids[lg_code]}")
        s.say(
            f"    登録ページ: {self.url}/lg/{PREMIUM_LG}/register  管理コンソール: {self.url}/admin"
            " (実演の間だけ動いています。続けて使うには furusato-issuer serve)",
            f"    registration page: {self.url}/lg/{PREMIUM_LG}/register  console: {self.url}/admin"
            " (up while the demo runs; furusato-issuer serve to keep one running)",
        )
        s.done(step, len(dids) == 2, url=self.url, dids=dids)

    # 2
    def registry(self) -> None:
        s = self.story
        step = s.begin(
            "registry",
            "全国レジストリの運営者が、2つの自治体の鍵を載せたレジストリに署名します",
            "The national registry operator signs a registry with both municipalities' keys",
        )
        env = {"FURUSATO_REGISTRY_SECRET": REGISTRY_SECRET}
        directory = s.out / "registry"
        codes = [
            s.run("furusato-issuer", ["registry", "init", "--registry-dir", directory], env=env)[0]
        ]
        data: list[str | Path] = ["--data-dir", s.out / "issuer"]
        for lg_code in (PREMIUM_LG, BASIC_LG):
            code, entry = s.run(
                "furusato-issuer",
                ["registry", "entry", *data, "--lg-code", lg_code],
                show=False,
                env={"DATABASE_URL": f"sqlite:///{s.out / 'issuer' / 'issuer.db'}"},
            )
            codes.append(code)
            entry_file = directory / f"entry-{lg_code}.json"
            entry_file.write_text(entry, encoding="utf-8")
            entry_args: list[str | Path] = ["registry", "entry", *data, "--lg-code", lg_code]
            s.echo(f"  $ {s.shown(['furusato-issuer', *entry_args])} > {s.shown([entry_file])}")
            codes.append(
                s.run(
                    "furusato-issuer",
                    ["registry", "add", "--registry-dir", directory, entry_file],
                    env=env,
                )[0]
            )
        signed = directory / "registry.jws"
        codes.append(
            s.run(
                "furusato-issuer",
                ["registry", "sign", "--registry-dir", directory, "--out", signed],
                env=env,
            )[0]
        )
        s.done(step, codes == [0] * 6 and signed.is_file(), exitCodes=codes)

    # 3
    def register(self) -> None:
        s = self.story
        step = s.begin(
            "register_basic",
            "住民が両方の自治体にベーシック登録し、ウォレットに証明書を受け取ります",
            "The resident registers with both (basic) and receives the credentials in the wallet",
        )
        codes = [s.wallet("init")[0]]
        for lg_code in (PREMIUM_LG, BASIC_LG):
            s.say(
                f"  (登録ページ {self.url}/lg/{lg_code}/register で申し込み、表示された QR を読み取ります)",
                f"  (applying on {self.url}/lg/{lg_code}/register and scanning the QR it shows)",
            )
            offer = httpx.post(
                f"{self.url}/lg/{lg_code}/registrations",
                json={"tier": "basic"},
                timeout=HTTP_TIMEOUT,
            )
            if offer.status_code != 201:
                s.fail(step, offerStatus=offer.status_code)
            codes.append(s.wallet("receive", offer.json()["offerUri"])[0])
        self.held = _held(s)
        basics = {lg: _find(self.held, lg, "basic") for lg in (PREMIUM_LG, BASIC_LG)}
        s.done(
            step,
            codes == [0, 0, 0] and all(basics.values()),
            exitCodes=codes,
            credentials={lg: row["id"] for lg, row in basics.items() if row},
        )

    # 4
    def activities(self) -> None:
        s = self.story
        step = s.begin(
            "checkins",
            "厚真町で3回ボランティアに参加し、職員が印刷したチェックイン QR を読み取ります",
            "The resident volunteers three times in 厚真町, scanning check-in QR codes staff printed",
        )
        codes = []
        with self.staff(PREMIUM_LG) as staff:
            for number, name in enumerate(SITES):
                site = staff.post("/admin/api/sites", json={"name": name, "category": "volunteer"})
                if site.status_code != 201:
                    s.fail(step, siteStatus=site.status_code)
                now = datetime.now(UTC)
                printed = staff.post(
                    f"/admin/api/sites/{site.json()['id']}/qr",
                    json={
                        "validFrom": format_datetime(now - timedelta(hours=1)),
                        "validUntil": format_datetime(now + timedelta(hours=3)),
                    },
                )
                if printed.status_code != 200:
                    s.fail(step, qrStatus=printed.status_code)
                payload: str = printed.json()["payload"]
                s.say(f"  ── {name}", f"  ── {name}")
                if number == 0:
                    # the first as a photographed poster: the PNG staff printed
                    image = s.out / "qr-checkin.png"
                    _write_qr(payload, image)
                    codes.append(s.wallet("checkin", image)[0])
                else:
                    codes.append(s.wallet("checkin", payload)[0])
        s.done(step, codes == [0, 0, 0], exitCodes=codes)

    # 5
    def apply(self) -> None:
        s = self.story
        step = s.begin(
            "apply_premium",
            "厚真町にプレミアム登録を申請し、マイナンバーカード (デモ用の試験カード) で本人確認します",
            "The resident applies for premium in 厚真町 and proves identity with the My Number "
            "Card (a demo test card)",
        )
        code, text = s.wallet("apply-premium", "--lg-code", PREMIUM_LG, "--json", show=False)
        s.echo(f"  $ {s.shown(['furusato-wallet', 'apply-premium', '--lg-code', PREMIUM_LG])}")
        if code != 0:
            s.fail(step, exitCode=code)
        applied = json.loads(text)
        login = httpx.URL(applied["identityUrl"]).params["login"]
        s.say(
            f"    申請 {applied['applicationId'][:8]}: 本人確認のページ {applied['identityUrl'][:60]}…",
            f"    application {applied['applicationId'][:8]}: identity page "
            f"{applied['identityUrl'][:60]}…",
        )
        s.say(
            "    カード読み取りアプリ: 発行者のチャレンジにカードの署名用電子証明書で署名します (JPKI)",
            "    the card reader app signs the issuer's challenge with the card's signing "
            "certificate (JPKI)",
        )
        base = f"{self.url}/lg/{PREMIUM_LG}/premium/identity/jpki"
        challenge = httpx.post(f"{base}/challenge", json={"login": login}, timeout=HTTP_TIMEOUT)
        if challenge.status_code != 200:
            s.fail(step, challengeStatus=challenge.status_code)
        signature = self.pki.card.sign(base64.b64decode(challenge.json()["challenge"]))
        proved = httpx.post(
            base,
            json={
                "login": login,
                "signature": base64.b64encode(signature).decode(),
                "certificate": base64.b64encode(self.pki.card.der).decode(),
                "chain": [base64.b64encode(self.pki.intermediate.der).decode()],
            },
            timeout=HTTP_TIMEOUT,
        )
        state = proved.json().get("state") if proved.status_code == 200 else None
        if state == "submitted":
            s.say(
                "    本人確認できました (氏名・生年月日・住所は確認に使っただけで、保存されません)",
                "    identity proven (name, birth date and address were used for the checks "
                "and are not stored)",
            )
        s.done(
            step,
            state == "submitted",
            applicationId=applied["applicationId"],
            identityStatus=proved.status_code,
            state=state,
        )

    # 6
    def approve(self) -> None:
        s = self.story
        step = s.begin(
            "staff_approve",
            "厚真町の職員が申請を審査し (活動3件を確認)、承認します",
            "厚真町 staff review the application (three activities) and approve it",
        )
        with self.staff(PREMIUM_LG) as staff:
            queue = staff.get("/admin/api/premium/applications").json()["applications"]
            application = queue[0] if len(queue) == 1 else None
            if application is None:
                s.fail(step, queued=len(queue))
            activities = application["activitiesInLast12Months"]
            s.say(
                f"    申請 {application['applicationId'][:8]}: 本人確認 {application['identityMethod']}、"
                f"過去12か月の活動 {activities} 件 (管理コンソール {self.url}/admin/premium)",
                f"    application {application['applicationId'][:8]}: identity by "
                f"{application['identityMethod']}, {activities} activities in the last 12 months "
                f"(console {self.url}/admin/premium)",
            )
            approved = staff.post(
                f"/admin/api/premium/applications/{application['applicationId']}/approve"
            )
        if approved.status_code == 200:
            s.say("    承認しました", "    approved")
        s.done(
            step,
            approved.status_code == 200 and activities >= 3,
            activities=activities,
            approveStatus=approved.status_code,
        )

    # 7
    def receive_premium(self) -> None:
        s = self.story
        step = s.begin(
            "receive_premium",
            "ウォレットが審査結果を確認し、プレミアム証明書を受け取ります",
            "The wallet checks the application and receives the premium credential",
        )
        code, _ = s.wallet("premium-status")
        self.held = _held(s)
        premium = _find(self.held, PREMIUM_LG, "premium")
        replaced = _find(self.held, PREMIUM_LG, "basic")
        s.done(
            step,
            code == 0 and premium is not None and (replaced or {}).get("state") == "revoked",
            exitCode=code,
            premium=premium["id"] if premium else None,
            replacedBasicState=(replaced or {}).get("state"),
        )

    # 8
    def wallet_list(self) -> None:
        s = self.story
        step = s.begin(
            "wallet_list",
            "ウォレットには厚真町のプレミアムと中野市のベーシックがあります "
            "(置き換わった厚真町のベーシックは失効)",
            "The wallet holds 厚真町 premium and 中野市 basic (the replaced 厚真町 basic is revoked)",
        )
        code, _ = s.wallet("list")
        active = sorted(
            (row["lgCode"], row["tier"])
            for row in self.held
            if row.get("kind") == "registration" and row.get("state") == "active"
        )
        s.done(
            step,
            code == 0 and active == sorted([(PREMIUM_LG, "premium"), (BASIC_LG, "basic")]),
            active=[f"{lg}:{tier}" for lg, tier in active],
        )

    # 9
    def sync(self) -> None:
        s = self.story
        step = s.begin(
            "verifier_sync",
            "ごみ集積所の確認端末が、全国レジストリとステータスリストを同期します "
            "(この後の確認はオフライン)",
            "A garbage point's device syncs the registry and status lists "
            "(the checks that follow are offline)",
        )
        policies = s.out / "policies"
        policies.mkdir(exist_ok=True)
        for name, policy in POLICIES.items():
            (policies / f"{name}.json").write_text(
                json.dumps(policy, ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
            )
        code = self._sync()
        s.done(step, code == 0, exitCode=code)

    def _sync(self) -> int:
        s = self.story
        code, _ = s.run(
            "furusato-verifier",
            [
                "sync",
                "--registry",
                s.out / "registry" / "registry.jws",
                "--registry-key",
                s.out / "registry" / "authority-public.jwk",
                "--cache-dir",
                s.out / "verifier-cache",
                "--lang",
                s.lang,
            ],
        )
        return code

    def _id(self, lg_code: str, tier: str) -> str:
        """The short id (as the wallet prints it) of the registration to present."""
        row = _find(self.held, lg_code, tier)
        if row is None:
            raise DemoError(f"no {tier} credential of {lg_code}")
        return str(row["id"]).removeprefix("urn:uuid:")[:8]

    def _show(
        self,
        place: str,
        lg_code: str,
        tier: str,
        image: str,
        *present: str,
        verify: tuple[str, ...] = (),
        label: str | None = None,
    ) -> tuple[bool, int, dict[str, Any]]:
        """The resident presents ``tier`` of ``lg_code`` as ``image`` (PNG) and ``place``'s
        device verifies it: (presented, the verifier's exit code, its JSON result)."""
        s = self.story
        path = s.out / image
        shown, _ = s.wallet("present", self._id(lg_code, tier), "--png", path, *present)
        code, result = s.verify(place, path, *verify, label=label)
        return shown == 0, code, result

    # 10
    def garbage_point(self) -> None:
        s = self.story
        step = s.begin(
            "garbage_point",
            "住民が厚真町のごみ集積所で QR を提示します (PNG と端末表示)。確認端末はオフラインで検証します",
            "At a 厚真町 garbage point the resident shows a QR (PNG and terminal); the device "
            "verifies it offline",
        )
        shown, code, result = self._show(
            "garbage-point", PREMIUM_LG, "premium", "qr-garbage-point.png", "--terminal"
        )
        s.done(
            step, shown and code == 0 and result.get("verified") is True, **_outcome(code, result)
        )

    # 11
    def nursery(self) -> None:
        s = self.story
        step = s.begin(
            "nursery",
            "厚真町のこども園 (プレミアムのみ、チャレンジ必須): 端末のチャレンジに住民が署名して提示します",
            "At a 厚真町 nursery (premium only, challenge required) the resident signs the "
            "device's challenge",
        )
        challenge = secrets.token_urlsafe(12)
        s.say(
            f"    こども園の端末がチャレンジを表示: {challenge}",
            f"    the nursery's device shows the challenge: {challenge}",
        )
        shown, code, result = self._show(
            "nursery",
            PREMIUM_LG,
            "premium",
            "qr-nursery.png",
            "--challenge",
            challenge,
            verify=("--challenge", challenge),
        )
        s.say(
            "    ごみ集積所で見せた QR の写し (スクリーンショット) を、こども園で使おうとすると:",
            "    a copy (screenshot) of the QR shown at the garbage point, tried at the nursery:",
        )
        replay, replayed = s.verify(
            "nursery",
            s.out / "qr-garbage-point.png",
            "--challenge",
            challenge,
            label="nursery-replayed-copy",
        )
        s.done(
            step,
            shown
            and code == 0
            and result.get("verified") is True
            and replay == 1
            and replayed.get("verified") is False,
            **_outcome(code, result),
            replayExitCode=replay,
            replayCodes=replayed.get("codes"),
        )

    # 12
    def community_centre(self) -> None:
        s = self.story
        step = s.begin(
            "community_centre",
            "中野市の公民館で、中野市のベーシック登録を提示します",
            "At a 中野市 community centre the resident shows the 中野市 basic registration",
        )
        shown, code, result = self._show(
            "community-centre", BASIC_LG, "basic", "qr-community-centre.png"
        )
        s.done(
            step, shown and code == 0 and result.get("verified") is True, **_outcome(code, result)
        )

    # 13
    def revoke(self) -> None:
        s = self.story
        step = s.begin(
            "revoke",
            "中野市が登録を失効させます (本人の申出)。端末が同期した後、次の確認は通りません",
            "中野市 revokes the registration (the resident asked); after the device syncs, "
            "the next check fails",
        )
        basic = _find(self.held, BASIC_LG, "basic")
        assert basic is not None  # step 3 found it
        with self.staff(BASIC_LG) as staff:
            revoked = staff.post(
                f"/admin/api/credentials/{basic['id']}/revoke", json={"reason": "本人の申出"}
            )
        s.say(
            f"    職員が失効させました (管理 API、HTTP {revoked.status_code})",
            f"    staff revoked it (admin API, HTTP {revoked.status_code})",
        )
        synced = self._sync()
        shown, code, result = self._show(
            "community-centre",
            BASIC_LG,
            "basic",
            "qr-after-revocation.png",
            label="after-revocation",
        )
        codes = result.get("codes") or []
        revoked_ok = revoked.status_code == 200 and synced == 0 and shown
        s.done(
            step,
            revoked_ok and code == 1 and "revoked" in codes,
            revokeStatus=revoked.status_code,
            **_outcome(code, result),
            codes=codes,
        )


def _outcome(code: int, result: dict[str, Any]) -> dict[str, Any]:
    """What ``steps.json`` keeps of a verification."""
    summary = result.get("summary") or {}
    return {"exitCode": code, "verified": result.get("verified"), "tier": summary.get("tier")}


def _write_qr(payload: str, path: Path) -> None:
    import segno

    segno.make_qr(payload, error="m").save(str(path), scale=6, border=4)


def main_entry(out_dir: Path, lang: str) -> None:
    """The ``demo`` command's body (exit 0 when the story came out as expected, 1 if not,
    2 when ``out_dir`` holds something else)."""
    if not prepare_directory(out_dir):
        click.echo(
            f"エラー: {out_dir} には実演以外のファイルがあります。--out で別の場所を指定してください / "
            f"error: {out_dir} holds other files; choose another place with --out",
            err=True,
        )
        sys.exit(2)
    ok = run_demo(out_dir=out_dir, lang=lang, echo=click.echo)
    sys.exit(0 if ok else 1)
