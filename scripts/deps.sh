#!/bin/sh
# Install what tricklefs needs to build, run and test on Debian 12.
# Does nothing if everything is already there; needs root otherwise.
set -eu
pkgs="gcc libc6-dev pkg-config meson ninja-build libfuse3-dev fuse3
libglib2.0-dev libssh2-1-dev openssh-server openssh-client procps psmisc make
iproute2 util-linux nftables rsync slurm-wlm munge"
missing=
for p in $pkgs; do
	dpkg-query -W -f='${Status}\n' "$p" 2>/dev/null | grep -q 'ok installed' ||
		missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "installing:$missing" >&2
if [ "$(id -u)" -ne 0 ]; then
	echo "run as root (or install these yourself):$missing" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
# shellcheck disable=SC2086
apt-get install -y -q --no-install-recommends $missing
# Slurm's and munge's packages enable their daemons; the tests start their
# own (tests/integration/slurm-lib.sh), so the system's stay off.
case "$missing" in
*slurm*|*munge*)
	for u in munge slurmd slurmctld; do
		systemctl disable --now "$u" >/dev/null 2>&1 || true
	done ;;
esac
