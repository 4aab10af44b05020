// Whether a run left the interpreter's standard fds 0-2 as the end of the last one put them. Part of the
// child: erasable syntax and node: builtins only.
//
// guest.py's `_end_of_run` gives the container's next run working standard streams: a script may have
// closed or redirected fds 0-2 (os.close, os.dup2). Opening /dev/stdin, /dev/stdout and /dev/stderr again and
// moving them onto fds 0-2 is nine calls into Emscripten's file system, ~60-80 µs of every run's ~600-700 µs
// of child CPU for `pass` (measured, alternated). Most runs touch none of them: Emscripten keeps an fd's open
// file as an object in `FS.streams`, and a close, a dup2 or an fcntl changes the object there, or its flags.
// So the fds are opened again only when one of the three is not the object, flags and file the last end of
// a run left there. The streams are this instance's (a reset builds a new file system and a new watch).

type Stream = { flags?: unknown; node?: unknown };
type FileSystem = { streams: ArrayLike<Stream | null | undefined> };
type Recorded = { stream: Stream; flags: unknown; node: unknown } | null;

/** What `_end_of_run` calls, as `_ptc_bridge.stdFdsIntact` and `_ptc_bridge.recordStdFds`. */
export interface StdFdsWatch {
  /** Whether fds 0-2 are as `recordStdFds` found them (false before it ever ran). */
  stdFdsIntact(): boolean;
  /** fds 0-2 were just opened again: this is how the next run should leave them. */
  recordStdFds(): void;
}

export function watchStdFds(fs: FileSystem): StdFdsWatch {
  let recorded: [Recorded, Recorded, Recorded] | null = null;
  const read = (fd: number): Recorded => {
    const stream = fs.streams[fd];
    return stream ? { stream, flags: stream.flags, node: stream.node } : null;
  };
  return {
    stdFdsIntact(): boolean {
      if (recorded === null) return false;
      for (let fd = 0; fd < 3; fd++) {
        const was = recorded[fd];
        const stream = fs.streams[fd];
        if (!was || !stream || stream !== was.stream || stream.flags !== was.flags || stream.node !== was.node) {
          return false;
        }
      }
      return true;
    },
    recordStdFds(): void {
      recorded = [read(0), read(1), read(2)];
    },
  };
}
