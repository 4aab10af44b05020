import { readFile } from "node:fs/promises";

/** A process and all its descendants, parents first (bubblewrap's, then the node child inside), from /proc. */
export async function processTree(pid: number): Promise<number[]> {
  const tree = [pid];
  for (let index = 0; index < tree.length; index++) {
    const current = tree[index] as number;
    try {
      const children = await readFile(`/proc/${current}/task/${current}/children`, "utf8");
      tree.push(...children.trim().split(/\s+/).filter(Boolean).map(Number));
    } catch {}
  }
  return tree;
}
