#!/bin/bash
# profile-config.sh: `mkube config` and `mkube profile` round trips through
# the real files under $MKUBE_HOME, in text and JSON.
source "$(dirname "$0")/cli-lib.sh"

# --- config ---
mk config view
expect_rc 0 "view on an empty home"
expect_out_eq "" "view on an empty home"
if [ ! -e "$MKUBE_HOME" ]; then ok; else fail "config view created the home"; fi

mk config set memory 4g
expect_rc 0 "set memory"
mk config set kubernetes-version 1.36.1
expect_rc 0 "set kubernetes-version"
mk config set wait-timeout 15m
expect_rc 0 "set wait-timeout"
mk config get memory
expect_out_eq "4g" "get memory"
mk config view
expect_out_eq "- kubernetes-version: 1.36.1
- memory: 4g
- wait-timeout: 15m" "view"
mk config view -o json
if jq -e '. == {"memory":"4g","kubernetes-version":"1.36.1","wait-timeout":"15m"}' "$OUT" >/dev/null; then
    ok
else
    fail "view -o json: $(cat "$OUT")"
fi
if jq -e '.memory == "4g"' "$MKUBE_HOME/config/config.json" >/dev/null; then ok; else fail "file content"; fi
perm=$(stat -c %a "$MKUBE_HOME/config/config.json")
[ "$perm" = 600 ] && ok || fail "config.json mode $perm"

MKUBE_MEMORY=5g "$BIN" config set memory 4g >"$OUT" 2>"$ERR"
expect_err_has "MKUBE_MEMORY=5g is set in the environment and wins" "env override warned"
mk config unset memory
expect_rc 0 "unset memory"
mk config get memory
expect_rc 1 "get after unset"
expect_err_has '"memory" is not set' "get after unset"
mk config unset memory
expect_rc 0 "unset twice"

# a key mkube does not know (written by a newer version) survives
jq '. + {"future-key": [1, 2]}' "$MKUBE_HOME/config/config.json" >"$TMP/c.json"
cp "$TMP/c.json" "$MKUBE_HOME/config/config.json"
mk config set cpus 1
expect_rc 0 "set cpus"
if jq -e '."future-key" == [1, 2] and .cpus == "1"' "$MKUBE_HOME/config/config.json" >/dev/null; then
    ok
else
    fail "unknown key lost: $(cat "$MKUBE_HOME/config/config.json")"
fi

# the stored value reaches start's validation (start refuses a bad file value)
printf '{"memory": "lots"}\n' >"$MKUBE_HOME/config/config.json"
if grep -qx '    .name = "start",' "$SRC/launcher/cmd-stubs.c" 2>/dev/null; then
    mk start
    expect_rc 64 "start with a bad stored value"
    expect_err_has 'config.json: memory: invalid memory size "lots"' "bad stored value named"
    expect_err_has "^hint: run 'mkube config set memory VALUE' or 'mkube config unset memory'" "hint"
fi
mk config unset memory

# --- profile ---
mk profile list
expect_rc 85 "list with no profiles"
expect_err_has "^mkube: no mkube profile was found$" "no profiles message"
mk profile list -o json
expect_rc 0 "list -o json with no profiles"
if jq -e '. == {"valid": [], "invalid": []}' "$OUT" >/dev/null; then ok; else fail "empty json list: $(cat "$OUT")"; fi

mk profile dev
expect_rc 0 "profile dev"
expect_out_has "profile was successfully set to dev" "profile dev"
mk profile
expect_out_eq "dev" "active profile"
[ "$(cat "$MKUBE_HOME/active-profile")" = dev ] && ok || fail "active-profile file"

# profiles as lifecycle writes them, one broken
mkdir -p "$MKUBE_HOME/profiles/dev" "$MKUBE_HOME/profiles/other" "$MKUBE_HOME/profiles/broken"
cat >"$MKUBE_HOME/profiles/dev/config.json" <<'JSON'
{"name": "dev", "driver": "qemu", "cpus": 2, "memory_mib": 3072, "disk_mib": 20000,
 "kubernetes_version": "v1.37.2", "container_runtime": "docker", "addons": {"dashboard": true},
 "status_hint": "Running", "future": {"x": 1}}
JSON
printf '{"name": "other", "driver": "libvirt", "container_runtime": "containerd"}\n' \
    >"$MKUBE_HOME/profiles/other/config.json"
printf '{ not json\n' >"$MKUBE_HOME/profiles/broken/config.json"
# a stopped qemu machine, as drivers/driver.c saves it: address, port and state come from it
mkdir -p "$MKUBE_HOME/machines/other"
printf '{"driver": "qemu", "cpus": 2, "forwards": [{"guest": 22, "host": 40022}, {"guest": 8443, "host": 40443}]}\n' \
    >"$MKUBE_HOME/machines/other/machine.json"

mk profile list
expect_rc 0 "profile list"
expect_out_has '^\| Profile +\| Driver +\| Runtime +\| IP +\| Port +\| Version +\| Status +\| Nodes +\| Active +\|$' "header"
expect_out_has '^\| dev +\| qemu +\| docker +\| +\| +\| v1\.37\.2 +\| Running +\| 1 +\| \* +\|$' "dev row"
expect_out_has '^\| other +\| libvirt +\| containerd +\| 127\.0\.0\.1 +\| 40443 +\| v1\.37\.2 +\| Stopped +\| 1 +\| +\|$' "other row"
expect_err_has "invalid profiles: broken" "broken reported"
if grep -q broken "$OUT"; then fail "broken profile in the table"; else ok; fi

mk -p other profile list -o json
expect_rc 0 "profile list -o json"
if jq -e '(.valid | map(.Name)) == ["dev", "other"] and (.invalid | map(.Name)) == ["broken"]
          and (.valid[0].Config.addons.dashboard == true) and (.valid[0].Config.future.x == 1)
          and (.valid[1].Active == true) and (.valid[0].Active == false)
          and (.valid[0].Status == "Running") and (.valid[1].Status == "Stopped")
          and (.valid[1].IP == "127.0.0.1") and (.valid[1].Port == 40443)' "$OUT" >/dev/null; then
    ok
else
    fail "profile list json: $(cat "$OUT")"
fi

mk profile mkube
mk profile
expect_out_eq "mkube" "back to the default"
finish
