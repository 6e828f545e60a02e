# Self and inclusive time by function from a V8 .cpuprofile (node --cpu-prof):
#   python3 bench/profile-top.py <file.cpuprofile> [rows]
import collections, json, sys

profile = json.load(open(sys.argv[1]))
rows = int(sys.argv[2]) if len(sys.argv) > 2 else 20
nodes = {n['id']: n for n in profile['nodes']}
parent = {c: n['id'] for n in profile['nodes'] for c in n.get('children', [])}
spent = collections.Counter()
for sample, delta in zip(profile['samples'], profile['timeDeltas']):
    spent[sample] += delta

def name(node_id):
    frame = nodes[node_id]['callFrame']
    return f"{frame['functionName'] or '(anonymous)'} {frame['url'].split('/')[-1]}:{frame['lineNumber'] + 1}"

own, inclusive = collections.Counter(), collections.Counter()
for node_id, t in spent.items():
    own[name(node_id)] += t
    seen, x = set(), node_id
    while x is not None:
        if name(x) not in seen:
            inclusive[name(x)] += t
            seen.add(name(x))
        x = parent.get(x)
total = sum(spent.values())
print(f'self time ({total / 1e6:.1f} s sampled)')
for k, v in own.most_common(rows):
    print(f'  {v / total * 100:5.1f}%  {k}')
print('inclusive time')
for k, v in inclusive.most_common(rows):
    print(f'  {v / total * 100:5.1f}%  {k}')
