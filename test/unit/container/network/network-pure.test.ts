/**
 * The pure parts of the network layer: Docker's `-p` grammar, IPv4/CIDR arithmetic, the
 * /etc/hosts and /etc/resolv.conf a container gets, the iptables rules of a network and of a
 * container's ports, aardvark-dns's configuration text, and the `ip -batch` lines of a spare
 * namespace of the pool.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { dnsConfigText } from '../../../../src/container/network/aardvark.ts';
import {
  hostsEntries,
  parseExtraHost,
  resolvConfText,
} from '../../../../src/container/network/etc-content.ts';
import { networkRules, portRules } from '../../../../src/container/network/firewall.ts';
import { portRequests } from '../../../../src/container/network/host-ports.ts';
import {
  cidrOverlaps,
  cidrWithin,
  formatCidr,
  formatIpv4,
  macForIpv4,
  parseCidr,
  parseIpv4,
} from '../../../../src/container/network/ipv4.ts';
import { poolSizeFromEnv, spareBatches } from '../../../../src/container/network/netns-pool.ts';
import { parsePortSpec, parsePortSpecs } from '../../../../src/container/network/port-spec.ts';

describe('port specifications (-p)', () => {
  it('parses the forms Docker accepts', () => {
    assert.deepEqual(parsePortSpec('80'), [{ port: '80/tcp', binding: { HostIp: '', HostPort: '' } }]);
    assert.deepEqual(parsePortSpec('8080:80'), [
      { port: '80/tcp', binding: { HostIp: '', HostPort: '8080' } },
    ]);
    assert.deepEqual(parsePortSpec('127.0.0.1:8080:80/udp'), [
      { port: '80/udp', binding: { HostIp: '127.0.0.1', HostPort: '8080' } },
    ]);
    assert.deepEqual(parsePortSpec('127.0.0.1::80'), [
      { port: '80/tcp', binding: { HostIp: '127.0.0.1', HostPort: '' } },
    ]);
    assert.deepEqual(
      parsePortSpec('8000-8001:80-81').map((p) => `${p.binding.HostPort}->${p.port}`),
      ['8000->80/tcp', '8001->81/tcp'],
    );
    assert.deepEqual(parsePortSpec('8000-8010:80'), [
      { port: '80/tcp', binding: { HostIp: '', HostPort: '8000-8010' } },
    ]);
  });

  it('refuses malformed specifications', () => {
    assert.throws(() => parsePortSpec('8000-8002:80-81'), /ranges differ/);
    assert.throws(() => parsePortSpec('70000:80'), /invalid port/);
    assert.throws(() => parsePortSpec('80/icmp'), /invalid protocol/);
    assert.throws(() => parsePortSpec('1.2.3:80:80'), /invalid IP/);
    assert.throws(() => parsePortSpec('1:2:3:4'), /too many colons/);
  });

  it("builds Docker's ExposedPorts and PortBindings, and -P requests for exposed ports", () => {
    const parsed = parsePortSpecs(['8080:80', '127.0.0.1:9090:80', '53/udp']);
    assert.deepEqual(Object.keys(parsed.exposedPorts).sort(), ['53/udp', '80/tcp']);
    assert.equal(parsed.portBindings['80/tcp']?.length, 2);
    const requests = portRequests({
      portBindings: parsed.portBindings,
      publishAllPorts: true,
      exposedPorts: { '80/tcp': {}, '443/tcp': {} },
    });
    assert.deepEqual(
      requests.map(
        (r) => `${r.hostIp}:${r.hostPortStart}-${r.hostPortEnd}->${r.containerPort}/${r.protocol}`,
      ),
      [':8080-8080->80/tcp', '127.0.0.1:9090-9090->80/tcp', ':0-0->53/udp', ':0-0->443/tcp'],
    );
  });
});

describe('IPv4 arithmetic', () => {
  it('parses, formats and compares blocks', () => {
    assert.equal(formatIpv4(parseIpv4('10.88.255.1') + 1), '10.88.255.2');
    assert.equal(formatCidr(parseCidr('10.1.2.3/16', { lenient: true })), '10.1.0.0/16');
    assert.throws(() => parseCidr('10.1.2.3/16'), /host bits/);
    assert.ok(cidrOverlaps(parseCidr('10.0.0.0/8'), parseCidr('10.88.0.0/16')));
    assert.ok(!cidrOverlaps(parseCidr('10.88.0.0/16'), parseCidr('10.89.0.0/24')));
    assert.ok(cidrWithin(parseCidr('10.89.0.128/25'), parseCidr('10.89.0.0/24')));
    assert.equal(macForIpv4(parseIpv4('10.88.0.2')), '02:42:0a:58:00:02');
  });
});

describe('container /etc files', () => {
  it('writes extra hosts and own addresses after the header', () => {
    assert.deepEqual(
      hostsEntries({
        hostname: 'web',
        domainname: 'example.com',
        addresses: ['10.89.0.2'],
        extraHosts: ['db:10.0.0.5', 'gw:host-gateway'],
        gateway: '10.89.0.1',
      }),
      ['10.0.0.5\tdb', '10.89.0.1\tgw', '10.89.0.2\tweb.example.com web'],
    );
    assert.throws(() => parseExtraHost('nocolon', undefined), /expected NAME:IP/);
  });

  it('drops loopback resolvers on the default bridge and points user networks at aardvark', () => {
    const host = 'nameserver 127.0.0.53\nnameserver 10.0.0.2\nsearch corp\noptions edns0\n';
    assert.equal(resolvConfText({ host }), 'search corp\nnameserver 10.0.0.2\noptions edns0\n');
    assert.equal(
      resolvConfText({ host: 'nameserver 127.0.0.1\n' }),
      'nameserver 8.8.8.8\nnameserver 8.8.4.4\n',
    );
    assert.equal(
      resolvConfText({ host, embeddedDns: '10.89.0.1', dnsSearch: ['a.test'], dnsOptions: ['ndots:2'] }),
      'search a.test\nnameserver 10.89.0.1\noptions ndots:2\n',
    );
    assert.equal(
      resolvConfText({ host, dns: ['1.1.1.1'] }),
      'search corp\nnameserver 1.1.1.1\noptions edns0\n',
    );
  });

  it('keeps the host resolvers, loopback ones too, with --network host and --dns-search', () => {
    const host = 'nameserver 127.0.0.53\nnameserver 10.0.0.2\nsearch corp\n';
    assert.equal(
      resolvConfText({ host, dnsSearch: ['a.test'], hostNetwork: true }),
      'search a.test\nnameserver 127.0.0.53\nnameserver 10.0.0.2\n',
    );
    assert.equal(
      resolvConfText({ host: 'nameserver 127.0.0.1\n', dnsOptions: ['ndots:3'], hostNetwork: true }),
      'nameserver 127.0.0.1\noptions ndots:3\n',
    );
    assert.equal(
      resolvConfText({ host, dns: ['10.0.0.53'], hostNetwork: true }),
      'search corp\nnameserver 10.0.0.53\n',
    );
  });
});

describe('iptables rules', () => {
  it('isolates every network and NATs only outbound ones', () => {
    const outbound = networkRules({
      tag: 'abcd1234',
      id: 'f'.repeat(64),
      bridge: 'br0',
      subnet: '10.89.0.0/24',
      internal: false,
    });
    assert.ok(outbound.filter.some((r) => r.startsWith('-A WHARF-ISOLATION -i br0 ! -o br0')));
    assert.ok(
      outbound.nat.some((r) => r.includes('-s 10.89.0.0/24 ! -o br0') && r.endsWith('-j MASQUERADE')),
    );
    assert.ok(outbound.filter.every((r) => r.includes('--comment wharf-net:abcd1234:ffffffffffff')));
    const internal = networkRules({
      tag: 'abcd1234',
      id: 'e'.repeat(64),
      bridge: 'br1',
      subnet: '10.89.1.0/24',
      internal: true,
    });
    assert.deepEqual(internal.nat, []);
    assert.ok(
      internal.filter.includes(
        '-A WHARF-FORWARD -i br1 -m comment --comment wharf-net:abcd1234:eeeeeeeeeeee -j DROP',
      ),
    );
  });

  it('DNATs each published port, on one address or all', () => {
    const rules = portRules({
      tag: 'abcd1234',
      containerId: '0123456789ab'.padEnd(64, '0'),
      containerIp: '10.89.0.2',
      ports: [
        { containerPort: 80, protocol: 'tcp', hostIp: '127.0.0.1', hostPort: 8080 },
        { containerPort: 53, protocol: 'udp', hostIp: '', hostPort: 5353 },
      ],
    });
    assert.deepEqual(rules, [
      '-A WHARF-DNAT -d 127.0.0.1/32 -p tcp -m tcp --dport 8080 -m comment --comment wharf-ctr:abcd1234:0123456789ab -j DNAT --to-destination 10.89.0.2:80',
      '-A WHARF-DNAT -p udp -m udp --dport 5353 -m comment --comment wharf-ctr:abcd1234:0123456789ab -j DNAT --to-destination 10.89.0.2:53',
    ]);
  });
});

describe('aardvark-dns configuration', () => {
  it('lists the gateway, then one line per container with its names', () => {
    assert.equal(
      dnsConfigText('10.89.0.1', [
        { containerId: 'c1', ip: '10.89.0.2', names: ['web', 'alias', 'web', 'bad name'] },
        { containerId: 'c2', ip: '10.89.0.3', names: [] },
      ]),
      '10.89.0.1\nc1 10.89.0.2  web,alias\n',
    );
  });
});

describe('spare namespaces', () => {
  it('wires the veth into the bridge on the host, then address, lo and route inside', () => {
    const spare = {
      netns: 'wharf-abcd1234-0123456789ab',
      hostVeth: 'wh0123456789a',
      ip: '10.89.0.3',
      mac: '02:42:0a:59:00:03',
    };
    const network = { bridge: 'wh-abcd1234', subnet: '10.89.0.0/24', gateway: '10.89.0.1', internal: false };
    assert.deepEqual(spareBatches(spare, network), {
      host:
        'netns add wharf-abcd1234-0123456789ab\n' +
        'link add wh0123456789a type veth peer name eth0 address 02:42:0a:59:00:03 netns wharf-abcd1234-0123456789ab\n' +
        'link set wh0123456789a master wh-abcd1234 up\n',
      inside:
        'link set lo up\naddr replace 10.89.0.3/24 dev eth0\nlink set eth0 up\nroute replace default via 10.89.0.1 dev eth0\n',
    });
    assert.doesNotMatch(spareBatches(spare, { ...network, internal: true }).inside, /route/);
  });

  it('keeps one spare per network unless WHARF_NETNS_POOL says otherwise', () => {
    assert.equal(poolSizeFromEnv({}), 1);
    assert.equal(poolSizeFromEnv({ WHARF_NETNS_POOL: '0' }), 0);
    assert.equal(poolSizeFromEnv({ WHARF_NETNS_POOL: '3' }), 3);
    assert.equal(poolSizeFromEnv({ WHARF_NETNS_POOL: '100' }), 8);
    assert.equal(poolSizeFromEnv({ WHARF_NETNS_POOL: 'lots' }), 1);
  });
});
