import assert from "node:assert/strict";
import {
  LabelsCsvError,
  parseCsv,
  readLabelsCsv,
} from "../../src/data/_labels_csv.ts";

Deno.test("parseCsv: RFC 4180 quotes, doubled quotes, CRLF, lines", () => {
  const r = parseCsv(
    'file,label\r\n"a,b.jpg","say ""hi"""\r\n"multi\nline.jpg",cat\nc.jpg,dog\n',
    "x.csv",
  );
  assert.deepEqual(r.map((x) => x.fields), [
    ["file", "label"],
    ["a,b.jpg", 'say "hi"'],
    ["multi\nline.jpg", "cat"],
    ["c.jpg", "dog"],
  ]);
  assert.deepEqual(r.map((x) => x.line), [1, 2, 3, 5]);
  assert.throws(() => parseCsv('a,"b\n', "x.csv"), /x.csv:1: unterminated/);
  assert.throws(() => parseCsv('a,b"c', "x.csv"), /quote inside/);
});

Deno.test("readLabelsCsv: rows and every error, naming file:line", async () => {
  const root = await Deno.makeTempDir();
  try {
    for (const f of ["a.jpg", "b.jpg", "sub/c.jpg"]) {
      await Deno.mkdir(`${root}/sub`, { recursive: true });
      await Deno.writeFile(`${root}/${f}`, new Uint8Array([1]));
    }
    const csv = `${root}/labels.csv`;
    const write = (t: string) => Deno.writeTextFile(csv, t);
    await write(
      'file,label,split\na.jpg,cat,train\n"sub/c.jpg",dog,validation\n',
    );
    assert.deepEqual(await readLabelsCsv(csv, root), [
      { file: "a.jpg", label: "cat", split: "train", line: 2 },
      { file: "sub/c.jpg", label: "dog", split: "validation", line: 3 },
    ]);
    await write("file,label\nb.jpg,cat\n");
    assert.equal((await readLabelsCsv(csv, root))[0].split, null);
    const cases: [string, RegExp][] = [
      ["", /:1: empty file/],
      ["path,class\n", /:1: expected the header/],
      ["file,label\nmissing.jpg,cat\n", /:2: file not found: missing.jpg/],
      ["file,label,split\na.jpg,cat,test\n", /:2: unknown split "test"/],
      ["file,label\na.jpg,\n", /:2: empty label for a.jpg/],
      [
        "file,label\na.jpg,cat\nb.jpg,dog\n./a.jpg,dog\n",
        /:4: duplicate row for .\/a.jpg \(first at line 2\)/,
      ],
      ["file,label\na.jpg\n", /:2: expected 2 fields, found 1/],
      ["file,label\n", /no rows after the header/],
      ["file,label\n../a.jpg,cat\n", /:2: \.\.\/a\.jpg is not a path inside/],
      [
        "file,label\n/etc/passwd,cat\n",
        /:2: \/etc\/passwd is not a path inside/,
      ],
    ];
    for (const [text, re] of cases) {
      await write(text);
      await assert.rejects(
        () => readLabelsCsv(csv, root),
        (e: Error) =>
          e instanceof LabelsCsvError && re.test(e.message) &&
          e.message.includes(csv),
      );
    }
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
