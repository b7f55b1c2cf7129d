#!/usr/bin/env bash
# Installs what the lab and the tests need on a Debian machine, once: the real servers and a
# non-root login user with passwordless `sudo -n`, as on a DC/OS master. Idempotent.
set -euo pipefail
need=()
command -v etcd >/dev/null || need+=(etcd-server)
command -v etcdctl >/dev/null || need+=(etcd-client)
[ -f /usr/share/java/zookeeper.jar ] || need+=(zookeeper)
[ -x /usr/sbin/sshd ] || need+=(openssh-server)
command -v sudo >/dev/null || need+=(sudo)
command -v ip >/dev/null || need+=(iproute2)
# The machines lab cuts power and partitions DCs with iptables rules on the host.
command -v iptables >/dev/null || need+=(iptables)
command -v ssh-keygen >/dev/null || need+=(openssh-client)
# The return guard asks the other DC with curl (inside the machines, and in its script test on loopback).
command -v curl >/dev/null || need+=(curl)
# The machines lab: containers with systemd as PID 1, their networks, and the link delayer (C, NFQUEUE).
command -v systemd-nspawn >/dev/null || need+=(systemd-container)
command -v nsenter >/dev/null || need+=(util-linux)
command -v cc >/dev/null || need+=(gcc libc6-dev)
[ -f /usr/include/libnetfilter_queue/libnetfilter_queue.h ] || need+=(libnetfilter-queue-dev)
# systemd itself (the machines boot the host's /usr/lib/systemd/systemd) and dbus for systemctl inside them.
[ -x /lib/systemd/systemd ] || need+=(systemd)
command -v dbus-daemon >/dev/null || need+=(dbus)
# The tests of `status --format prometheus` (promtool) and of the HTML incident report (headless Chromium).
command -v promtool >/dev/null || need+=(prometheus)
command -v chromium >/dev/null || need+=(chromium)
if [ ${#need[@]} -gt 0 ]; then
  echo "lab:deps: installing ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
LAB_USER=${DCFAIL_LAB_USER:-dcfail}
if ! id "$LAB_USER" >/dev/null 2>&1; then
  useradd --create-home --shell /bin/bash "$LAB_USER"
fi
# A locked password makes OpenSSH refuse key logins when UsePAM is off; '*' is "no password".
usermod -p '*' "$LAB_USER"
echo "$LAB_USER ALL=(ALL) NOPASSWD: ALL" > /etc/sudoers.d/dcfail-lab
chmod 0440 /etc/sudoers.d/dcfail-lab
# A second login user without sudo rights, for the tests of what fails when `sudo -n` does not.
if ! id dcfail-nosudo >/dev/null 2>&1; then
  useradd --create-home --shell /bin/bash dcfail-nosudo
fi
usermod -p '*' dcfail-nosudo
mkdir -p /run/sshd
echo "lab:deps: ok (etcd $(etcd --version 2>/dev/null | head -1 | awk '{print $3}'), login user $LAB_USER)"
