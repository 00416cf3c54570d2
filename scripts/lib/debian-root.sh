# Debian root file systems made by debootstrap, cached and reused: sourced by scripts/test-obs-versions (a
# root per OBS release) and scripts/build-windows (the sid root that cross-builds the Windows DLL). Needs root.
#
#   ensure_root ROOT RELEASE STAMP LOG PACKAGE...   build ROOT unless its stamp matches and it is fresh
#   in_root ROOT CMD...   apt_in ROOT ARGS...   mount_in ROOT proc|dev|x11|/HOST/DIR...   unmount_all
#
# MIRROR (optional) is passed to debootstrap; ROOT_MAX_AGE_DAYS (default 30) ages a cached root out.

ROOT_MAX_AGE_DAYS=${ROOT_MAX_AGE_DAYS:-30}

# Run a command in a root's system: directly when the root is / (this machine), through chroot otherwise.
in_root() { local root=$1; shift; if [ "$root" = / ]; then "$@"; else chroot "$root" "$@"; fi; }
apt_in() { local root=$1; shift; in_root "$root" env DEBIAN_FRONTEND=noninteractive apt-get -q "$@"; }

# Mounts a root needs while something runs in it; unmounted in reverse order, also on failure (trap).
declare -a mounted=()
mount_in() { # root what... (proc, dev, x11, DIR)
  local root=$1 m; shift
  for m in "$@"; do
    case "$m" in
      proc) mount -t proc proc "$root/proc"; mounted+=("$root/proc") ;;
      # /dev as it is (the host's device nodes), with a private /dev/shm for Mesa and Qt.
      dev) mount --bind /dev "$root/dev"; mounted+=("$root/dev")
           mount -t tmpfs -o mode=1777 tmpfs "$root/dev/shm"; mounted+=("$root/dev/shm") ;;
      # Only the X socket folder of the host's /tmp: the root keeps its own /tmp.
      x11) mkdir -p /tmp/.X11-unix "$root/tmp/.X11-unix"; mount --bind /tmp/.X11-unix "$root/tmp/.X11-unix"
           mounted+=("$root/tmp/.X11-unix") ;;
      # A host folder at the same path inside, so both sides share paths (obs_harness.VBG_OBS_ROOT).
      /*) mkdir -p "$root$m"; mount --bind "$m" "$root$m"; mounted+=("$root$m") ;;
    esac
  done
}
unmount_all() {
  local i
  for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do umount "${mounted[i]}" 2>/dev/null || umount -l "${mounted[i]}" || true; done
  mounted=()
}

# The root is current: its stamp matches and it is younger than ROOT_MAX_AGE_DAYS.
root_current() { # root stamp
  [ -f "$1/.vbg-root-stamp" ] && [ "$(cat "$1/.vbg-root-stamp")" = "$2" ] &&
    [ -z "$(find "$1/.vbg-root-stamp" -mtime +"$ROOT_MAX_AGE_DAYS")" ]
}

# Build ROOT (minbase RELEASE plus PACKAGES) into ROOT.new and move it in place; prints one summary line.
build_root_fs() { # root release stamp log package...
  local root=$1 rel=$2 stamp=$3 log=$4 tmp t0 t1 t2; shift 4
  tmp=$root.new
  rm -rf "$tmp" "$root"
  trap unmount_all EXIT
  t0=$(date +%s)
  # shellcheck disable=SC2086  # no mirror argument: debootstrap's default
  debootstrap --variant=minbase "$rel" "$tmp" $MIRROR >"$log" 2>&1 || { tail -n 20 "$log" >&2; return 1; }
  t1=$(date +%s)
  # apt must not start services in the root.
  printf '#!/bin/sh\nexit 101\n' >"$tmp/usr/sbin/policy-rc.d"
  chmod 0755 "$tmp/usr/sbin/policy-rc.d"
  # minbase has no systemd to make one; without it Qt's D-Bus attempts in OBS log errors.
  tr -d - </proc/sys/kernel/random/uuid >"$tmp/etc/machine-id"
  # This machine's own certificate authorities (a TLS proxy, if any), so tools in the root can fetch.
  if compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null; then
    mkdir -p "$tmp/usr/local/share/ca-certificates"
    cp /usr/local/share/ca-certificates/*.crt "$tmp/usr/local/share/ca-certificates/"
  fi
  mount_in "$tmp" proc dev
  # sid's Release file on the mirror can be past its Valid-Until between pushes: accept it.
  { apt_in "$tmp" -o Acquire::Check-Valid-Until=false update &&
    apt_in "$tmp" install -y --no-install-recommends "$@" &&
    apt_in "$tmp" clean; } >>"$log" 2>&1 || { tail -n 20 "$log" >&2; return 1; }
  if [ -x "$tmp/usr/sbin/update-ca-certificates" ]; then in_root "$tmp" update-ca-certificates >>"$log" 2>&1; fi
  unmount_all
  trap - EXIT
  t2=$(date +%s)
  echo "$stamp" >"$tmp/.vbg-root-stamp"
  mv "$tmp" "$root"
  echo "built root $root in $((t2 - t0)) s (debootstrap $((t1 - t0)) s, apt $((t2 - t1)) s; $(du -sm "$root" | cut -f1) MB)"
}
