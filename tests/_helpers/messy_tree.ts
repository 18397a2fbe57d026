/**
 * A class-folder tree as scraped archives hold them, made of the TF decode
 * corpus' real files (`fixtures/tf_decode/corpus/`): JPEG, PNG, GIF, BMP and
 * WebP images, with macOS/Windows junk and other files around them.
 *
 * @module
 */

import { dirname, join } from "node:path";
import { DECODE_GOLDEN_DIR } from "../../fixtures/tf_decode/goldens.ts";

const corpus = (name: string) => join(DECODE_GOLDEN_DIR, "corpus", name);

/** Files of the tree: relative path → corpus file name, or text content. */
export const MESSY_TREE: Record<string, { corpus: string } | { text: string }> =
  {
    "train/cats/a.jpg": { corpus: "jpeg_420_37x53.jpg" },
    "train/cats/b.JPEG": { corpus: "jpeg_cmyk_adobe_37x53.jpg" },
    "train/cats/c.bmp": { corpus: "bmp_24_37x53.bmp" },
    "train/cats/d.webp": { corpus: "webp_lossy_37x53.webp" },
    "train/cats/e.webp": { corpus: "webp_lossy_alpha_37x53.webp" },
    "train/cats/f.jpg": { corpus: "jpeg_exif_orient6_53x37.jpg" },
    "train/cats/._a.jpg": { text: "\0\x05\x16\x07AppleDouble" },
    "train/cats/.DS_Store": { text: "Bud1" },
    "train/cats/notes.txt": { text: "cats" },
    "train/cats/README": { text: "no extension" },
    "train/cats/__MACOSX/._b.JPEG": { text: "\0\x05\x16\x07" },
    "train/dogs/g.png": { corpus: "png_rgba_37x53.png" },
    "train/dogs/h.gif": { corpus: "gif_transparent_37x53.gif" },
    "train/dogs/i.bmp": { corpus: "bmp_1_37x53.bmp" },
    "train/dogs/Thumbs.db": { text: "thumbs" },
    "train/dogs/desktop.ini": { text: "[.ShellClassInfo]" },
    "train/dogs/.hidden.jpg": { corpus: "jpeg_420_37x53.jpg" },
    "train/dogs/list.csv": { text: "a,b" },
    "train/dogs/more.txt": { text: "dogs" },
    "train/__MACOSX/cats/._a.jpg": { text: "\0\x05\x16\x07" },
    "train/.git/HEAD": { text: "ref" },
  };

/** Writes {@link MESSY_TREE} under `dir`; returns `dir`. */
export async function writeMessyTree(dir: string): Promise<string> {
  for (const [rel, what] of Object.entries(MESSY_TREE)) {
    const path = join(dir, rel);
    await Deno.mkdir(dirname(path), { recursive: true });
    if ("corpus" in what) await Deno.copyFile(corpus(what.corpus), path);
    else await Deno.writeTextFile(path, what.text);
  }
  return dir;
}
