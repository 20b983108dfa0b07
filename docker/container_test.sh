#!/usr/bin/env bash
# make container-test: build docker/Dockerfile and run the image for real, on a machine without a Docker
# engine. Debian's buildah builds and runs OCI images with --isolation chroot (host network); the base image
# is made from Debian packages with debootstrap and cached, so nothing but the configured Debian mirror and
# package index is contacted, and the server is only ever reached on 127.0.0.1.
# Needs root (chroot isolation mounts filesystems). Knobs: CONTAINER_TEST_PORT (7860),
# CONTAINER_TEST_WORK (/var/tmp/aiact-container-test), DEBIAN_MIRROR (default: this machine's apt source).
set -euo pipefail
cd "$(dirname "$0")/.."

BASE_IMAGE=localhost/aiact-debian-base:bookworm
IMAGE=localhost/aiact-demo:container-test
CONTAINER=aiact-container-test
PORT=${CONTAINER_TEST_PORT:-7860}
WORK=${CONTAINER_TEST_WORK:-/var/tmp/aiact-container-test}
PY=$PWD/.venv/bin/python
CLI=$PWD/.venv/bin/aiact-transparency
CA_BUNDLE=/etc/ssl/certs/ca-certificates.crt
started=$SECONDS
run_pid=""
ctr=""

step() { printf '\n==> %s [%ds]\n' "$*" $((SECONDS - started)); }
fail() { printf '\nFAIL: %s\n' "$*" >&2; exit 1; }

stop_server() {
    # Stopped by process id: SIGTERM to the server itself first, so uvicorn shuts down gracefully (buildah
    # answers SIGTERM by killing its child outright); then buildah run, which exits with its child.
    local server_pid=""
    if [ -f "$WORK/server.pid" ]; then server_pid=$(cat "$WORK/server.pid"); rm -f "$WORK/server.pid"; fi
    local pid
    for pid in $server_pid $run_pid; do
        kill -0 "$pid" 2>/dev/null || continue
        kill -TERM "$pid" 2>/dev/null || true
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
        if kill -0 "$pid" 2>/dev/null; then
            echo "  process $pid ignored SIGTERM for 10s: SIGKILL"
            kill -KILL "$pid" 2>/dev/null || true
        fi
    done
    if [ -n "$run_pid" ]; then wait "$run_pid" 2>/dev/null || true; fi
    run_pid=""
}

cleanup() {
    local status=$?
    stop_server
    [ -n "$ctr" ] && buildah rm "$ctr" >/dev/null 2>&1 || true
    if [ "$status" -ne 0 ] && [ -f "$WORK/run.log" ]; then
        printf '\n--- last lines of the container log (%s) ---\n' "$WORK/run.log" >&2
        tail -n 40 "$WORK/run.log" >&2
    fi
    [ "$status" -eq 0 ] || printf '\ncontainer-test FAILED after %ds\n' $((SECONDS - started)) >&2
}
trap cleanup EXIT

[ "$(id -u)" -eq 0 ] || fail "run as root: buildah's chroot isolation mounts filesystems"
[ -x "$CLI" ] || fail "$CLI is missing: run 'make install' first"

step "tools"
missing=()
command -v buildah >/dev/null || missing+=(buildah)
command -v debootstrap >/dev/null || missing+=(debootstrap)
if [ ${#missing[@]} -gt 0 ]; then
    echo "  installing ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
buildah --version
mkdir -p "$WORK"
# A container left behind by an interrupted run would block the name.
buildah rm "$CONTAINER" >/dev/null 2>&1 || true
if "$PY" - "$PORT" <<'EOF'
import socket, sys
with socket.socket() as s:
    sys.exit(0 if s.connect_ex(("127.0.0.1", int(sys.argv[1]))) == 0 else 1)
EOF
then
    fail "port $PORT on 127.0.0.1 is already in use; stop that server or set CONTAINER_TEST_PORT"
fi

debian_mirror() {
    # The mirror apt uses here for bookworm (deb822 .sources or one-line sources.list), so debootstrap
    # goes where this machine is allowed to go.
    local found=""
    if compgen -G "/etc/apt/sources.list.d/*.sources" >/dev/null; then
        found=$(awk 'BEGIN { RS = "" }
            /Suites:[^\n]*[ \t]bookworm([ \t\n]|$)/ && !/Enabled:[ \t]*no/ {
                if (match($0, /URIs:[ \t]*[^ \t\n]+/)) { u = substr($0, RSTART, RLENGTH); sub(/URIs:[ \t]*/, "", u); print u; exit }
            }' /etc/apt/sources.list.d/*.sources)
    fi
    if [ -z "$found" ] && [ -f /etc/apt/sources.list ]; then
        found=$(awk '$1 == "deb" { for (i = 2; i < NF; i++) if ($i ~ /:\/\// && $(i + 1) == "bookworm") { print $i; exit } }' \
            /etc/apt/sources.list)
    fi
    echo "${found:-http://deb.debian.org/debian}"
}

step "base image $BASE_IMAGE"
if buildah inspect --type image "$BASE_IMAGE" >/dev/null 2>&1; then
    echo "  cached (buildah rmi $BASE_IMAGE to rebuild it)"
else
    mirror=${DEBIAN_MIRROR:-$(debian_mirror)}
    # apt may reach the mirror through a proxy; debootstrap only honours the environment.
    eval "$(apt-config shell APT_HTTP_PROXY Acquire::http::Proxy)"
    if [ -n "${APT_HTTP_PROXY:-}" ] && [ -z "${http_proxy:-}" ]; then export http_proxy=$APT_HTTP_PROXY; fi
    echo "  debootstrap bookworm from $mirror"
    rootfs=$WORK/rootfs
    rm -rf "$rootfs"
    debootstrap --variant=minbase --include=python3,python3-venv,python3-pip,ca-certificates \
        bookworm "$rootfs" "$mirror" >"$WORK/debootstrap.log" 2>&1 ||
        { tail -n 30 "$WORK/debootstrap.log" >&2; fail "debootstrap (log: $WORK/debootstrap.log)"; }
    # Device nodes come from the runtime; downloaded packages and lists only weigh.
    rm -rf "$rootfs"/dev/* "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*_*
    base_ctr=$(buildah from scratch)
    mnt=$(buildah mount "$base_ctr")
    cp -a "$rootfs"/. "$mnt"/
    buildah umount "$base_ctr" >/dev/null
    buildah config --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin --env LANG=C.UTF-8 \
        --cmd '["python3"]' "$base_ctr"
    buildah commit --quiet "$base_ctr" "$BASE_IMAGE" >/dev/null
    buildah rm "$base_ctr" >/dev/null
    rm -rf "$rootfs"
    echo "  imported"
fi

step "pip settings for the build"
# pip inside the build must reach the package index the way this machine does: keep network settings
# (index URLs, trusted hosts, proxy, CA bundle) from pip's config and PIP_* variables, drop local paths
# (file:// indexes, find-links, constraints) that do not exist inside the build.
"$PY" - "$WORK/pip.conf" "$CA_BUNDLE" <<'EOF'
import subprocess, sys
out, ca_bundle = sys.argv[1], sys.argv[2]
keep = {"index-url", "extra-index-url", "trusted-host", "proxy", "cert", "timeout", "default-timeout", "retries"}
listed = subprocess.run([sys.executable, "-m", "pip", "config", "list"], capture_output=True, text=True).stdout
settings = {}
for line in listed.splitlines():  # e.g. global.cert='/etc/ssl/certs/ca-certificates.crt' or :env:.cert='...'
    name, _, value = line.partition("=")
    key = name.split(".", 1)[-1]
    if key in keep:
        settings[key] = value.strip("'\"")
for key in ("index-url", "extra-index-url"):
    if key in settings:
        urls = [u for u in settings[key].split() if u.startswith(("http://", "https://"))]
        settings[key] = " ".join(urls)
if settings.get("cert") not in (None, ca_bundle):
    settings.pop("cert")  # only the CA bundle is mounted into the build
with open(out, "w") as f:
    f.write("[global]\n" + "".join(f"{k} = {v}\n" for k, v in sorted(settings.items()) if v))
EOF
sed 's/^/  /' "$WORK/pip.conf"

step "build $IMAGE from docker/Dockerfile"
# No --layers: the pip step reruns whenever the package changes anyway, and a layer cache would leave a
# dangling chain of 600 MB images per run; downloaded wheels are kept by the Dockerfile's cache mount.
# --format docker: the OCI image format has no HEALTHCHECK.
previous=$(buildah images --quiet --no-trunc "$IMAGE" 2>/dev/null || true)
build=(buildah bud --isolation chroot --format docker --pull=never
    --build-arg "BASE_IMAGE=$BASE_IMAGE" -v "$WORK/pip.conf:/etc/pip.conf:ro" -f docker/Dockerfile -t "$IMAGE")
# Where this machine trusts its own CA for package downloads, the build must trust it too.
[ -f "$CA_BUNDLE" ] && build+=(-v "$CA_BUNDLE:$CA_BUNDLE:ro")
# Progress as it goes (the steps), the whole output in build.log.
set +e
"${build[@]}" . 2>&1 | tee "$WORK/build.log" | grep --line-buffered -E '^(STEP|COMMIT|Successfully)' | sed 's/^/  /'
build_status=${PIPESTATUS[0]}
set -e
[ "$build_status" -eq 0 ] || { tail -n 40 "$WORK/build.log" >&2; fail "buildah bud (log: $WORK/build.log)"; }
buildah images "$IMAGE"
current=$(buildah images --quiet --no-trunc "$IMAGE")
# The previous build's image, now untagged, by its id (nothing else is pruned).
if [ -n "$previous" ] && [ "$previous" != "$current" ]; then buildah rmi "$previous" >/dev/null 2>&1 || true; fi

# The image's own CMD and HEALTHCHECK, exactly as a container engine would run them.
image_config() { buildah inspect --type image "$IMAGE" | "$PY" -c "$1"; }
mapfile -d '' CMD < <(image_config 'import json,sys; print("\0".join(json.load(sys.stdin)["Docker"]["config"]["Cmd"]), end="")')
mapfile -d '' HEALTH < <(image_config 'import json,sys; t=json.load(sys.stdin)["Docker"]["config"]["Healthcheck"]["Test"]; assert t[0]=="CMD", t; print("\0".join(t[1:]), end="")')
image_user=$(image_config 'import json,sys; print(json.load(sys.stdin)["Docker"]["config"]["User"])')
[ ${#CMD[@]} -gt 0 ] && [ ${#HEALTH[@]} -gt 0 ] || fail "the image has no CMD or no HEALTHCHECK"
echo "  CMD: ${CMD[*]}"
echo "  USER: $image_user"
[ -n "$image_user" ] && [ "${image_user%%:*}" != 0 ] && [ "${image_user%%:*}" != root ] || fail "image runs as root"

# run_container LABEL CHECK_ARGS... -- BUILDAH_RUN_ARGS...: start the CMD, wait for health, check, stop.
run_container() {
    local label=$1; shift
    local checks=() run_args=()
    while [ "$1" != -- ]; do checks+=("$1"); shift; done
    shift
    run_args=("$@")
    step "run ($label)"
    ctr=$(buildah from --pull-never --name "$CONTAINER" "$IMAGE")
    [ "$PORT" = 7860 ] || buildah config --env "PORT=$PORT" "$ctr"
    buildah run --isolation chroot --network host "${run_args[@]}" "$ctr" -- "${CMD[@]}" >"$WORK/run.log" 2>&1 &
    run_pid=$!
    echo "  buildah run pid $run_pid, log $WORK/run.log"
    "$PY" docker/container_checks.py "http://127.0.0.1:$PORT" "$WORK" "$CLI" --run-pid "$run_pid" \
        --pid-file "$WORK/server.pid" --expect-uid "${image_user%%:*}" "${checks[@]}"
    buildah run --isolation chroot --network host "$ctr" -- "${HEALTH[@]}" ||
        fail "the image's HEALTHCHECK command failed against the running server"
    echo "  ok: the image's HEALTHCHECK command passes (no curl in the image)"
    stop_server
    "$PY" - "$PORT" <<'EOF' || fail "the server still answers after being stopped"
import socket, sys
with socket.socket() as s:
    sys.exit(1 if s.connect_ex(("127.0.0.1", int(sys.argv[1]))) == 0 else 0)
EOF
    echo "  ok: stopped by process id, port $PORT closed"
    buildah rm "$ctr" >/dev/null
    ctr=""
}

gradio=()
# Once examples/gradio_app.py exists the image must serve it under /gradio.
[ -f examples/gradio_app.py ] && gradio=(--gradio) || echo "  (examples/gradio_app.py not present: /gradio not checked)"
run_container "no mounts: examples/aiact.yaml (example model card), development chain generated at start" \
    --system-name "Acme Studio (demo)" "${gradio[@]}" --
grep -q "UNTRUSTED" "$WORK/run.log" || fail "the development chain was not logged as untrusted"
echo "  ok: the development chain is logged as UNTRUSTED"

# Production-like: a mounted config file and signing keys as secrets (a chain made here for the test,
# readable by the image's uid like a real secret must be).
secrets=$WORK/secrets
rm -rf "$secrets"
AIACT_KEYS_DIR=$secrets "$CLI" keys init >"$WORK/keys-init.log" 2>&1
serial=$(AIACT_KEYS_DIR=$secrets "$CLI" keys show --json | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["serial_number"])')
chown "$image_user" "$secrets"/dev-signer-chain.pem "$secrets"/dev-signer.key.pem
run_container "mounted /config/aiact.yaml and /run/secrets keys" \
    --system-name "Acme Studio (container demo)" --config docker/aiact.yaml --signer-serial "$serial" -- \
    -v "$PWD/docker/aiact.yaml:/config/aiact.yaml:ro" \
    -v "$secrets/dev-signer-chain.pem:/run/secrets/aiact_signing_cert:ro" \
    -v "$secrets/dev-signer.key.pem:/run/secrets/aiact_signing_key:ro"
grep -q "certificate file /run/secrets/aiact_signing_cert" "$WORK/run.log" ||
    fail "the container did not sign with the mounted secret"
echo "  ok: signed with the key from /run/secrets, config read from /config/aiact.yaml"

printf '\ncontainer-test passed in %ds\n' $((SECONDS - started))
