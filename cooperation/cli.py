"""The `coop` command: database, demo data, users, and serving the app."""

import argparse
import asyncio
import getpass
import os
import sys
from typing import Any, cast

from cooperation.settings import Settings, SettingsError


def _settings() -> Settings:
    try:
        return Settings.from_env()
    except SettingsError as exc:
        sys.exit(f"coop: configuration error: {exc}")


def cmd_db_upgrade(args: argparse.Namespace) -> None:
    from cooperation import migrate

    settings = _settings()
    migrate.upgrade(settings.database_url, args.revision)
    print(f"database at {args.revision}: {_safe_url(settings.database_url)}")


def cmd_db_downgrade(args: argparse.Namespace) -> None:
    from cooperation import migrate

    migrate.downgrade(_settings().database_url, args.revision)


def cmd_db_revision(args: argparse.Namespace) -> None:
    from cooperation import migrate

    migrate.autogenerate(_settings().database_url, args.message)


def _safe_url(url: str) -> str:
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        return f"{scheme}://***@{rest.split('@', 1)[1]}"
    return url


async def _demo_load(settings: Settings, scale: int) -> None:
    from cooperation import demo
    from cooperation.app import demo_loaders, scale_loaders
    from cooperation.db import create_engine, session_factory

    engine = create_engine(settings.database_url)
    factory = session_factory(engine)
    try:
        loaded = await demo.load(factory, demo_loaders())
        print("demo world loaded" if loaded else "demo world already present: nothing changed")
        if scale:
            counts = await demo.load_scale(factory, scale_loaders(), scale)
            print(f"synthetic data at scale {scale}: {sum(counts.values())} records")
    finally:
        await engine.dispose()


def cmd_demo_load(args: argparse.Namespace) -> None:
    settings = _settings()
    from cooperation import migrate

    migrate.upgrade(settings.database_url)
    try:
        asyncio.run(_demo_load(settings, args.scale))
    except RuntimeError as exc:
        sys.exit(f"coop: {exc}")


async def _create_admin(settings: Settings, email: str, name: str, password: str) -> None:
    from cooperation.auth.access import Role
    from cooperation.auth.services import create_user
    from cooperation.db import create_engine, session_factory
    from cooperation.errors import ServiceError
    from cooperation.partners.services import home_institution_id

    engine = create_engine(settings.database_url)
    try:
        async with session_factory(engine)() as session:
            try:
                user = await create_user(
                    session,
                    None,
                    email=email,
                    name=name,
                    role=Role.ADMIN,
                    password=password,
                    institution_id=await home_institution_id(session),
                )
            except ServiceError as exc:
                details = "; ".join(f"{k} {v}" for k, v in exc.errors.items()) or exc.detail
                sys.exit(f"coop: cannot create the administrator: {details}")
            await session.commit()
    finally:
        await engine.dispose()
    print(f"administrator {user.email} created")


SETUP_QUESTIONS = [
    ("home_code", "Code of your library (e.g. NLV)"),
    ("home_name", "Its name in English"),
    ("home_name_native", "Its name in its own language (optional)"),
    ("country", "Its country, as an ISO code (e.g. VN)"),
    ("admin_name", "The first administrator's name"),
    ("admin_email", "The first administrator's e-mail"),
]


def cmd_setup(args: argparse.Namespace) -> None:
    """First run on an empty database: migrate, then the home institution and the first administrator."""
    from cooperation import migrate

    settings = _settings()
    if args.print_code:
        migrate.upgrade(settings.database_url)
        code = asyncio.run(_setup_code(settings))
        if code is None:
            sys.exit("coop: LibCoop is already set up: an administrator exists")
        print(f"Setup code for {_base_url(settings)}/setup (works once): {code}")
        return
    answers = {key: getattr(args, key) for key, _ in SETUP_QUESTIONS}
    for key, question in SETUP_QUESTIONS:
        if answers[key] is None and sys.stdin.isatty():
            answers[key] = input(f"{question}: ").strip() or None
    missing = [f"--{key.replace('_', '-')}" for key, _ in SETUP_QUESTIONS if answers[key] is None and key != "home_name_native"]
    if missing:
        sys.exit(f"coop: setup needs {', '.join(missing)} (or run it in a terminal to be asked)")
    password = os.environ.get("COOP_ADMIN_PASSWORD") or (
        getpass.getpass("The administrator's password (12+ characters): ") if sys.stdin.isatty() else ""
    )
    if not password:
        sys.exit("coop: give the administrator's password in COOP_ADMIN_PASSWORD or type it at the prompt")
    migrate.upgrade(settings.database_url)
    asyncio.run(_setup(settings, answers, password))


async def _setup_code(settings: Settings) -> str | None:
    """A new one-time code for the /setup page, or None once an administrator exists."""
    from cooperation import setup
    from cooperation.errors import ConflictError

    async def issue(session: Any) -> str | None:
        try:
            return await setup.issue_code(session)
        except ConflictError:
            return None

    return cast(str | None, await _with_session(settings, issue))


async def _setup(settings: Settings, answers: dict[str, Any], password: str) -> None:
    from cooperation import setup
    from cooperation.db import create_engine, session_factory
    from cooperation.errors import ConflictError, ValidationFailed

    engine = create_engine(settings.database_url)
    try:
        async with session_factory(engine)() as session:
            try:
                user = await setup.first_run(session, setup.SetupIn(**answers, admin_password=password))
            except ConflictError as exc:
                sys.exit(f"coop: {exc.detail}")
            except ValidationFailed as exc:
                sys.exit("coop: setup refused: " + "; ".join(f"{k.replace('_', '-')} {v}" for k, v in exc.errors.items()))
            print(f"LibCoop is set up: {answers['home_code'].upper()} is the home institution; {user.email} is its administrator.")
            print("Next: `coop serve`, sign in, and invite the department from Administration → Users.")
    finally:
        await engine.dispose()


def _base_url(settings: Settings) -> str:
    return settings.base_url or "http://127.0.0.1:8000"


async def _with_session(settings: Settings, work: Any) -> Any:
    from cooperation.db import create_engine, session_factory
    from cooperation.errors import ServiceError

    engine = create_engine(settings.database_url)
    try:
        async with session_factory(engine)() as session:
            try:
                return await work(session)
            except ServiceError as exc:
                details = "; ".join(f"{k} {v}" for k, v in exc.errors.items())
                sys.exit(f"coop: {details or exc.detail}")
    finally:
        await engine.dispose()


def cmd_users_list(args: argparse.Namespace) -> None:
    from cooperation.auth import accounts
    from cooperation.auth.access import Role, operator

    async def work(session: Any) -> None:
        role = Role(args.role) if args.role else None
        found = await accounts.list_users(session, operator(), q=args.search, role=role, per_page=100)
        rows = list(found.items)
        while len(rows) < found.total:
            rows += (
                await accounts.list_users(session, operator(), q=args.search, role=role, per_page=100, page=len(rows) // 100 + 1)
            ).items
        print(f"{'e-mail':<36} {'role':<12} {'inst.':<8} {'active':<7} {'signs in with':<26} last sign-in")
        for u in rows:
            last = u.last_sign_in_at.isoformat(timespec="minutes") if u.last_sign_in_at else "never"
            active = "yes" if u.active else "no"
            print(f"{u.email:<36} {u.role:<12} {u.institution_code or '—':<8} {active:<7} {', '.join(u.signs_in_with) or '—':<26} {last}")
        print(f"{found.total} account(s)")

    asyncio.run(_with_session(_settings(), work))


def cmd_users_invite(args: argparse.Namespace) -> None:
    from sqlalchemy import select
    from sqlmodel import col

    from cooperation.auth import accounts
    from cooperation.auth.access import Role, operator
    from cooperation.partners.models import Institution

    settings = _settings()

    async def work(session: Any) -> None:
        institution_id = None
        if args.institution:
            institution_id = await session.scalar(select(col(Institution.id)).where(col(Institution.code) == args.institution.upper()))
            if institution_id is None:
                sys.exit(f"coop: no institution with code {args.institution!r}")
        data = accounts.InviteIn(
            email=args.email, name=args.name, role=Role(args.role), institution_id=institution_id, language=args.language
        )
        made = await accounts.invite(session, operator(), settings, _base_url(settings), data)
        sent = "e-mailed" if made.sent_at else f"NOT e-mailed ({made.send_error})"
        print(f"invited {made.email} as {made.role} ({made.institution_code}); {sent}.")
        print(f"one-time link, valid until {made.expires_at:%Y-%m-%d %H:%M} UTC: {made.link}")

    asyncio.run(_with_session(settings, work))


def cmd_users_active(args: argparse.Namespace) -> None:
    from sqlalchemy import select
    from sqlmodel import col

    from cooperation.auth import accounts
    from cooperation.auth.access import operator
    from cooperation.auth.models import User

    async def work(session: Any) -> None:
        user_id = await session.scalar(select(col(User.id)).where(col(User.email) == args.email.strip().lower()))
        if user_id is None:
            sys.exit(f"coop: no account with e-mail {args.email!r}")
        await accounts.change_user(session, operator(), user_id, accounts.UserChange(active=args.active))
        print(f"{args.email}: {'reactivated' if args.active else 'deactivated (its sessions and API tokens ended)'}")

    asyncio.run(_with_session(_settings(), work))


def cmd_users_reset(args: argparse.Namespace) -> None:
    from cooperation.auth import accounts

    settings = _settings()

    async def work(session: Any) -> None:
        link = await accounts.request_reset(session, settings, _base_url(settings), args.email)
        if link is None:
            sys.exit(f"coop: no active account with e-mail {args.email!r}")
        print(f"a link to choose a new password (once, within {accounts.RESET_MINUTES} minutes), also e-mailed if mail works:")
        print(link)

    asyncio.run(_with_session(settings, work))


def cmd_mail_test(args: argparse.Namespace) -> None:
    from cooperation import mail

    settings = _settings()
    message = mail.message(
        settings,
        to=args.address,
        subject="LibCoop test message",
        text="This message was sent by `coop mail test`: LibCoop's mail settings work.\n— LibCoop",
    )
    print(f"sending through {settings.smtp_host}:{settings.smtp_port} from {settings.mail_from} to {args.address} …")
    try:
        answer = asyncio.run(mail.send(settings, message))
    except mail.MailError as exc:
        sys.exit(f"coop: not sent: {exc}")
    print(f"the server answered: {answer}")


def cmd_secret_rotate(args: argparse.Namespace) -> None:
    from cooperation import rotation

    settings = _settings()
    if not settings.old_secret_keys:
        print("coop: COOP_OLD_SECRET_KEYS is empty: the secrets are re-encrypted under COOP_SECRET_KEY as they are")

    async def work(session: Any) -> dict[str, int]:
        try:
            return await rotation.rotate_all(session, settings)
        except rotation.UnreadableSecret as exc:
            sys.exit(f"coop: {exc}")

    done = asyncio.run(_with_session(settings, work))
    for label, count in done.items():
        print(f"{count:>6}  {label}")
    print("every stored secret is now sealed with COOP_SECRET_KEY: COOP_OLD_SECRET_KEYS can be removed")


def cmd_create_admin(args: argparse.Namespace) -> None:
    settings = _settings()
    password = os.environ.get("COOP_ADMIN_PASSWORD") or (getpass.getpass("Password (12+ characters): ") if sys.stdin.isatty() else "")
    if not password:
        sys.exit("coop: give the password in COOP_ADMIN_PASSWORD or type it at the prompt")
    asyncio.run(_create_admin(settings, args.email, args.name, password))


async def _sso_add(settings: Settings, args: argparse.Namespace, secret: str) -> None:
    from sqlalchemy import select
    from sqlmodel import col

    from cooperation.auth import sso
    from cooperation.auth.access import Role
    from cooperation.db import create_engine, session_factory
    from cooperation.errors import ServiceError
    from cooperation.partners.models import Institution

    mapping = {}
    for item in args.role_map:
        value, _, role = item.partition("=")
        if not value or role not in {r.value for r in Role}:
            sys.exit(f"coop: --role-map takes claim-value=role (a role of {', '.join(r.value for r in Role)}), not {item!r}")
        mapping[value] = Role(role)
    engine = create_engine(settings.database_url)
    try:
        async with session_factory(engine)() as session, sso.http_client() as http:
            institution_id = await session.scalar(select(col(Institution.id)).where(col(Institution.code) == args.institution.upper()))
            if institution_id is None:
                sys.exit(f"coop: no institution with code {args.institution!r}")
            data = sso.ProviderIn(
                institution_id=institution_id,
                issuer=args.issuer,
                client_id=args.client_id,
                client_secret=secret,
                scopes=args.scopes,
                allowed_email_domains=args.allowed_domain,
                role_claim=args.role_claim,
                role_mapping=mapping,
                default_role=Role(args.default_role),
                enabled=not args.disabled,
            )
            try:
                await sso.register_provider(session, None, settings.secret_keys, data, http)
            except ServiceError as exc:
                sys.exit("coop: cannot register the provider: " + ("; ".join(f"{k} {v}" for k, v in exc.errors.items()) or exc.detail))
    finally:
        await engine.dispose()
    code = args.institution.upper()
    print(f"identity provider registered for {code}; its redirect URI is <COOP_BASE_URL>{sso.redirect_path(code)}")


def cmd_sso_add(args: argparse.Namespace) -> None:
    settings = _settings()
    secret = os.environ.get(args.client_secret_env, "")
    if not secret:
        sys.exit(f"coop: put the client secret in the environment variable {args.client_secret_env}")
    asyncio.run(_sso_add(settings, args, secret))


def cmd_serve(args: argparse.Namespace) -> None:
    import uvicorn

    from cooperation import migrate
    from cooperation.auth.services import is_loopback

    if args.demo:
        if not is_loopback(args.host):
            sys.exit("coop: demo mode (one-click demo sign-in) is only allowed on a loopback address such as 127.0.0.1")
        os.environ["COOP_DEMO_SIGN_IN"] = "1"
    settings = _settings()
    migrate.upgrade(settings.database_url)
    if args.demo:
        asyncio.run(_demo_load(settings, 0))
    elif (code := asyncio.run(_setup_code(settings))) is not None:
        # Only whoever reads this terminal (or the service's log) can make themselves the first administrator.
        print(f"LibCoop has no administrator yet: open {_base_url(settings)}/setup and give the setup code {code}")
        print(f"LibCoop demo: open http://{args.host}:{args.port}/ and pick a demo account (password for all: libcoop-demo-2025)")
        if not settings.mail_enabled:
            from cooperation.mail import NOT_CONFIGURED

            print(NOT_CONFIGURED)
    uvicorn.run(
        "cooperation.app:create_app",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        proxy_headers=not args.demo,
        log_config=None,
    )


async def _scheduler(settings: Settings) -> None:
    """The app's scheduler without its web server: stands by, or schedules when elected, until stopped."""
    import signal

    from cooperation.app import create_app

    app = create_app(settings)
    for hook in app.on_startup:  # ours take no arguments (see create_app)
        await cast(Any, hook)()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    print("coop scheduler: running (stop with Ctrl-C)", flush=True)
    await stop.wait()
    for hook in app.on_shutdown:
        await cast(Any, hook)()


def cmd_backup(args: argparse.Namespace) -> None:
    from pathlib import Path

    from cooperation import backup

    try:
        done = backup.backup(_settings(), Path(args.file))
    except backup.BackupError as exc:
        sys.exit(f"coop: backup failed: {exc}")
    print(f"backed up the {done.database} database and {done.files} stored files ({done.bytes / 1048576:.1f} MiB) to {args.file}")


def cmd_restore(args: argparse.Namespace) -> None:
    from pathlib import Path

    from cooperation import backup

    try:
        done = backup.restore(_settings(), Path(args.file))
    except backup.BackupError as exc:
        sys.exit(f"coop: restore refused: {exc}")
    print(f"restored the {done.database} database and {done.files} stored files from {args.file}; run `coop db upgrade` next")


def cmd_storage_migrate(args: argparse.Namespace) -> None:
    from cooperation import files

    settings = _settings()
    source = files.storage(settings)
    try:
        target = files.open_storage(args.to, settings)
    except files.StorageError as exc:
        sys.exit(f"coop: {exc}")
    if target.url == source.url:
        sys.exit("coop: the target is the store in use; give another with --to")

    def progress(done: files.Migrated) -> None:
        print(f"… {done.copied} copied, {done.present} already there ({done.bytes / 1048576:.1f} MiB)", flush=True)

    print(f"copying every stored file from {source.url} to {target.url}")
    done = asyncio.run(files.migrate(source, target, report=progress))
    print(f"{done.copied} files copied ({done.bytes / 1048576:.1f} MiB), {done.present} already there")
    if done.damaged:
        sys.exit(f"coop: {len(done.damaged)} stored files do not match their names and were not copied: {', '.join(done.damaged[:10])}")
    print(f"now set COOP_STORAGE_URL={target.url} on every server and restart them; run this again first to copy what came meanwhile")


def cmd_worker(args: argparse.Namespace) -> None:
    from cooperation.reports import worker

    worker.main(_settings())


def cmd_scheduler(args: argparse.Namespace) -> None:
    os.environ.setdefault("COOP_SCHEDULER", "1")
    settings = _settings()
    if not settings.scheduler_enabled:
        sys.exit("coop: the scheduler is switched off (COOP_SCHEDULER=0)")
    asyncio.run(_scheduler(settings))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="coop", description="LibCoop: international cooperation for national libraries")
    commands = parser.add_subparsers(dest="command", required=True)

    db = commands.add_parser("db", help="database schema").add_subparsers(dest="db_command", required=True)
    up = db.add_parser("upgrade", help="migrate the database to the latest schema")
    up.add_argument("revision", nargs="?", default="head")
    up.set_defaults(func=cmd_db_upgrade)
    down = db.add_parser("downgrade", help="migrate the database back to a revision")
    down.add_argument("revision")
    down.set_defaults(func=cmd_db_downgrade)
    revision = db.add_parser("revision", help="autogenerate a migration from the models")
    revision.add_argument("-m", "--message", required=True)
    revision.set_defaults(func=cmd_db_revision)

    demo = commands.add_parser("demo", help="demo data").add_subparsers(dest="demo_command", required=True)
    load = demo.add_parser("load", help="load the demo world (idempotent); --scale adds synthetic agreements")
    load.add_argument("--scale", type=int, default=0, help="add 10×N synthetic agreements for benchmarks")
    load.set_defaults(func=cmd_demo_load)

    first = commands.add_parser("setup", help="first run: the home institution and the first administrator (once)")
    first.add_argument("--home-code", dest="home_code")
    first.add_argument("--home-name", dest="home_name")
    first.add_argument("--home-name-native", dest="home_name_native")
    first.add_argument("--country")
    first.add_argument("--admin-email", dest="admin_email")
    first.add_argument("--admin-name", dest="admin_name")
    first.add_argument(
        "--print-code", action="store_true", help="print a new one-time code for the /setup page instead (while no administrator exists)"
    )
    first.set_defaults(func=cmd_setup)

    users = commands.add_parser("users", help="user accounts").add_subparsers(dest="users_command", required=True)
    admin = users.add_parser("create-admin", help="create a local administrator (password from COOP_ADMIN_PASSWORD or prompt)")
    admin.add_argument("--email", required=True)
    admin.add_argument("--name", default="Administrator")
    admin.set_defaults(func=cmd_create_admin)
    listing = users.add_parser("list", help="every account: role, institution, how it signs in, last sign-in")
    listing.add_argument("--role", choices=["admin", "coordinator", "director", "partner"])
    listing.add_argument("--search", help="part of a name or e-mail address")
    listing.set_defaults(func=cmd_users_list)
    inviting = users.add_parser("invite", help="e-mail a one-time link to a new account (and print it)")
    inviting.add_argument("--email", required=True)
    inviting.add_argument("--name", required=True)
    inviting.add_argument("--role", required=True, choices=["admin", "coordinator", "director", "partner"])
    inviting.add_argument("--institution", help="a partner librarian's institution code (staff belong to the home institution)")
    inviting.add_argument("--language", default="en", choices=["en", "fr", "vi", "zh_Hans"])
    inviting.set_defaults(func=cmd_users_invite)
    off = users.add_parser("deactivate", help="end an account's access at once (sessions and API tokens)")
    off.add_argument("email")
    off.set_defaults(func=cmd_users_active, active=False)
    on = users.add_parser("reactivate", help="let a deactivated account sign in again")
    on.add_argument("email")
    on.set_defaults(func=cmd_users_active, active=True)
    reset = users.add_parser("reset-password", help="e-mail (and print) a one-time link to choose a new password")
    reset.add_argument("email")
    reset.set_defaults(func=cmd_users_reset)

    mail_commands = commands.add_parser("mail", help="outgoing e-mail").add_subparsers(dest="mail_command", required=True)
    trial = mail_commands.add_parser("test", help="send one message and print what the SMTP server answered")
    trial.add_argument("address")
    trial.set_defaults(func=cmd_mail_test)

    sso_commands = commands.add_parser("sso", help="partner single sign-on").add_subparsers(dest="sso_command", required=True)
    add = sso_commands.add_parser("add", help="register an institution's OpenID Connect provider (discovery is checked)")
    add.add_argument("--institution", required=True, help="institution code, e.g. NLC")
    add.add_argument("--issuer", required=True, help="issuer URL, exactly as the provider's discovery document states it")
    add.add_argument("--client-id", required=True)
    add.add_argument("--client-secret-env", default="COOP_SSO_CLIENT_SECRET", help="environment variable holding the client secret")
    add.add_argument("--scopes", default="openid email profile")
    add.add_argument("--allowed-domain", action="append", default=[], help="e-mail domain whose verified addresses may link accounts")
    add.add_argument("--role-claim", help="claim carrying groups or roles, e.g. groups")
    add.add_argument("--role-map", action="append", default=[], help="claim-value=role, e.g. intl-coop=coordinator")
    add.add_argument("--default-role", default="partner")
    add.add_argument("--disabled", action="store_true", help="register it switched off")
    add.set_defaults(func=cmd_sso_add)

    secret = commands.add_parser("secret", help="the key stored secrets are sealed with").add_subparsers(
        dest="secret_command", required=True
    )
    rotating = secret.add_parser(
        "rotate", help="re-encrypt every stored secret under COOP_SECRET_KEY (the old key in COOP_OLD_SECRET_KEYS meanwhile)"
    )
    rotating.set_defaults(func=cmd_secret_rotate)

    serve = commands.add_parser("serve", help="migrate and serve the application")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1)
    serve.add_argument("--demo", action="store_true", help="load the demo world and offer demo sign-in (loopback only)")
    serve.set_defaults(func=cmd_serve)

    saved = commands.add_parser("backup", help="the database and the file store in one archive (while the app serves)")
    saved.add_argument("file", help="archive to write, e.g. libcoop-2026-11-30.tar")
    saved.set_defaults(func=cmd_backup)
    restored = commands.add_parser("restore", help="an archive from `coop backup`, checked, into an empty database")
    restored.add_argument("file")
    restored.set_defaults(func=cmd_restore)

    store = commands.add_parser("storage", help="the file store").add_subparsers(dest="storage_command", required=True)
    moving = store.add_parser("migrate", help="copy every stored file to another store (resumable, checked)")
    moving.add_argument("--to", required=True, help="file:///path or s3://bucket/prefix (endpoint and keys from COOP_S3_*)")
    moving.set_defaults(func=cmd_storage_migrate)

    rendering = commands.add_parser("worker", help="render the reports web servers queue (several may run, on any machine)")
    rendering.set_defaults(func=cmd_worker)

    scheduler = commands.add_parser("scheduler", help="run report schedules and reminders without the web server")
    scheduler.set_defaults(func=cmd_scheduler)

    args = parser.parse_args(argv)
    args.func(args)


if __name__ == "__main__":
    main()
