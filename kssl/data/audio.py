"""Speech for CPC, at 16 kHz: a labelled synthetic corpus made with espeak-ng, and real speech from
the Debian Fillets-NG game data; MFCC features (the CPC paper's baseline) with `tf.signal`.

- `espeak_clips(...)`: every (speaker, sentence) pair spoken by espeak-ng through its C library
  (ctypes; `apt-get install espeak-ng`). A speaker is an espeak voice + variant ("en-us+f2"); the
  phone of every 10 ms frame comes from espeak's own phoneme events (their audio positions), so
  each clip has a speaker label and each frame a phone label. Seeded (speaking rate per clip).
- `ToneEngine`: a synthetic stand-in for espeak-ng (letters as tones) for smoke tests.
- `fillets_clips(...)`: the acted Czech/Dutch speech of `fillets-ng-data-cs` / `-nl`
  (`/usr/share/games/fillets-ng/sound/<level>/<lang>/<who>-<voice>-<word>.ogg`), decoded with
  soundfile (libsndfile) and resampled to 16 kHz; the speaker is `<lang>-<voice>` (m: the small
  fish, v: the big fish).

Both are built once, with a progress bar, into an .npz cache in `kssl.files.cache_dir()` (`$KSSL_CACHE`,
default `~/.keras/datasets/kssl_cache/`), written atomically and keyed by everything that shapes them.

Frames: frame t of a clip is samples [160 t, 160 t + 160), the step of CPC's stride-160 encoder;
a clip of L samples has ceil(L / 160) frames.
"""

import ctypes
import dataclasses
import glob
import hashlib
import json
import os

import numpy as np

from kssl.checks import check_positive_int
from kssl.data.splits import grouped_split
from kssl.training.files import cache_dir, save_npz_atomic

SAMPLE_RATE = 16000
HOP = 160  # samples per frame: 10 ms, the CPC encoder's stride
SILENCE = "_"

# espeak voices + variants: 8 speakers, 4 female and 4 male, five accents ("en" is British English).
SPEAKERS = ("en-us+f2", "en-us+m3", "en+f4", "en+m1", "en-gb-scotland+f1", "en-gb-scotland+m4",
            "en-gb-x-rp+f3", "en-029+m2")

# More speakers for hours of speech: English accents x voice variants (f*: female, m*: male), all shipped
# with Debian's espeak-ng-data.
ACCENTS = ("en-us", "en", "en-gb-scotland", "en-gb-x-rp", "en-029", "en-gb-x-gbclan", "en-gb-x-gbcwmd", "en-us-nyc")
VARIANTS = ("f1", "m1", "f2", "m2", "f3", "m3", "f4", "m4", "f5", "m5", "m6", "m7")


def espeak_speakers(count):
    """`count` distinct espeak-ng speakers "accent+variant", accents in turn and variants shifting, so any
    prefix mixes accents and sexes (at most len(ACCENTS) * len(VARIANTS) = 96).

    >>> espeak_speakers(3)
    ('en-us+f1', 'en+m1', 'en-gb-scotland+f2')
    """
    check_positive_int("count", count)
    pairs = len(ACCENTS) * len(VARIANTS)
    if count > pairs:
        raise ValueError(f"`count` must be <= {pairs} (accents x variants); got {count}.")
    # i = 8q + a: accent a, variant (a + q) mod 12, so every accent meets every variant within 96
    return tuple(f"{ACCENTS[i % len(ACCENTS)]}+{VARIANTS[(i % len(ACCENTS) + i // len(ACCENTS)) % len(VARIANTS)]}"
                 for i in range(count))


def corpus_sentences(sentences, count, min_words=5, max_words=20, seed=0):
    """`count` distinct sentences (strings) of `min_words`..`max_words` words, drawn (seeded) from `sentences`
    (e.g. `kssl.datasets.text_corpus().sentences()`): texts for espeak-ng to say.

    >>> corpus_sentences(["Too short.", "A sentence of exactly five words.", "Another one with five words."], 1)
    ('A sentence of exactly five words.',)
    """
    check_positive_int("count", count)
    pool = sorted({s for s in sentences if min_words <= len(s.split()) <= max_words})
    if len(pool) < count:
        raise ValueError(f"`count` {count} exceeds the {len(pool)} distinct sentences of {min_words}-{max_words} words.")
    pick = np.random.default_rng(seed).permutation(len(pool))[:count]
    return tuple(pool[i] for i in sorted(pick))


# Harvard sentences (IEEE 1969 "Recommended practice for speech quality measurements", lists 1-4;
# public domain), the classic phonetically balanced test sentences.
SENTENCES = (
    "The birch canoe slid on the smooth planks.", "Glue the sheet to the dark blue background.",
    "It's easy to tell the depth of a well.", "These days a chicken leg is a rare dish.",
    "Rice is often served in round bowls.", "The juice of lemons makes fine punch.",
    "The box was thrown beside the parked truck.", "The hogs were fed chopped corn and garbage.",
    "Four hours of steady work faced us.", "A large size in stockings is hard to sell.",
    "The boy was there when the sun rose.", "A rod is used to catch pink salmon.",
    "The source of the huge river is the clear spring.", "Kick the ball straight and follow through.",
    "Help the woman get back to her feet.", "A pot of tea helps to pass the evening.",
    "Smoky fires lack flame and heat.", "The soft cushion broke the man's fall.",
    "The salt breeze came across from the sea.", "The girl at the booth sold fifty bonds.",
    "The small pup gnawed a hole in the sock.", "The fish twisted and turned on the bent hook.",
    "Press the pants and sew a button on the vest.", "The swan dive was far short of perfect.",
    "The beauty of the view stunned the young boy.", "Two blue fish swam in the tank.",
    "Her purse was full of useless trash.", "The colt reared and threw the tall rider.",
    "It snowed, rained, and hailed the same morning.", "Read verse out loud for pleasure.",
    "Hoist the load to your left shoulder.", "Take the winding path to reach the lake.",
    "Note closely the size of the gas tank.", "Wipe the grease off his dirty face.",
    "Mend the coat before you go out.", "The wrist was badly strained and hung limp.",
    "The stray cat gave birth to kittens.", "The young girl gave no clear response.",
    "The meal was cooked before the bell rang.", "What joy there is in living.",
    "A king ruled the state in the early days.", "The ship was torn apart on the sharp reef.",
    "Sickness kept him home the third week.", "The wide road shimmered in the hot sun.",
    "The lazy cow lay in the cool grass.", "Lift the square stone over the fence.",
    "The rope will bind the seven books at once.", "Hop over the fence and plunge in.",
)


@dataclasses.dataclass
class Clips:
    """Speech clips at 16 kHz with labels.

    Attributes:
        waveforms: list of float32 arrays in [-1, 1], one per clip.
        speakers: `(clips,)` int speaker ids into `speaker_names`.
        speaker_names: tuple of str.
        groups: `(clips,)` int, what a held-out split must not share (the sentence, or the file's word).
        frame_labels: list of int arrays, one label per 10 ms frame (ceil(L / 160)), ids into `phones`;
            None when the source has no phone labels.
        phones: tuple of str phone names (espeak's mnemonics; "_" is silence), or None.

    Example:
    >>> import numpy as np
    >>> from kssl.data import audio
    >>> clips = audio.Clips([np.zeros(480, "float32"), np.ones(800, "float32")], np.array([0, 1]), ("a", "b"),
    ...                     groups=np.array([0, 1]))
    >>> len(clips), clips.crops(samples=640, seed=0).shape
    (2, (2, 640))
    """

    waveforms: list
    speakers: np.ndarray
    speaker_names: tuple
    groups: np.ndarray
    frame_labels: list = None
    phones: tuple = None

    def __len__(self):
        return len(self.waveforms)

    def seconds(self):
        """Total duration of the clips, in seconds."""
        return sum(len(w) for w in self.waveforms) / SAMPLE_RATE

    def subset(self, index):
        index = np.asarray(index, int)
        return Clips([self.waveforms[i] for i in index], self.speakers[index], self.speaker_names, self.groups[index],
                     None if self.frame_labels is None else [self.frame_labels[i] for i in index], self.phones)

    def split(self, test_fraction=0.25, seed=0):
        """(train, test), holding out a random `test_fraction` of the groups (sentences): the test
        clips say nothing the training clips say, by speakers the training clips also have."""
        train, test = grouped_split(self.groups, test_fraction, seed)
        return self.subset(train), self.subset(test)

    def crops(self, samples, per_clip=1, seed=0):
        """`(clips * per_clip, samples)` float32 random crops (zero-padded when a clip is shorter):
        CPC's training windows; crop i comes from clip i // per_clip. All in memory at once: for many
        crops read them a batch at a time with `crop_reader`."""
        return self.crop_reader(samples, per_clip, seed)(np.arange(len(self) * per_clip))

    def crop_reader(self, samples, per_clip=1, seed=0):
        """A function from crop indices to their `(len(indices), samples)` float32 crops: the windows of
        `crops(samples, per_clip, seed)[indices]`, cut when asked (12 000 steps of 16 half-second crops are
        6 GB held at once).

        Example:
        >>> import numpy as np
        >>> from kssl.data import audio
        >>> clips = audio.Clips([np.arange(10, dtype="float32"), np.arange(3, dtype="float32")], np.array([0, 1]),
        ...                     ("a", "b"), groups=np.array([0, 1]))
        >>> read = clips.crop_reader(4, per_clip=2, seed=0)
        >>> bool((read([3, 0]) == clips.crops(4, per_clip=2, seed=0)[[3, 0]]).all()), read([2]).tolist()
        (True, [[0.0, 1.0, 2.0, 0.0]])
        """
        check_positive_int("samples", samples)
        check_positive_int("per_clip", per_clip)
        rng = np.random.default_rng(seed)
        # One start per crop, drawn clip by clip in crop order (the draws do not depend on which crops are read).
        starts = [int(rng.integers(0, max(1, len(wave) - samples + 1))) for wave in self.waveforms
                  for _ in range(per_clip)]
        waveforms = self.waveforms

        def read(indices):
            indices = np.asarray(indices, np.int64).reshape(-1)
            out = np.zeros((len(indices), samples), np.float32)
            for row, i in enumerate(indices):
                piece = waveforms[i // per_clip][starts[i] : starts[i] + samples]
                out[row, : len(piece)] = piece
            return out

        return read


def num_frames(samples):
    """Frames of a clip of `samples` samples: ceil(samples / 160)."""
    return -(-int(samples) // HOP)


def frame_labels_from_events(events, samples, sample_rate=SAMPLE_RATE):
    """Per-frame labels from phone onsets: `events` is a list of (onset in seconds, label) in time
    order; frame t gets the label of the last onset at or before its centre, silence before the first.

    Example:
    >>> from kssl.data import audio
    >>> audio.frame_labels_from_events([(0.012, "h"), (0.031, "a")], samples=800)
    ['_', 'h', 'h', 'a', 'a']
    """
    centres = (np.arange(num_frames(samples)) * HOP + HOP / 2) / sample_rate
    onsets = np.array([t for t, _ in events], float)
    index = np.searchsorted(onsets, centres, side="right") - 1
    return [SILENCE if i < 0 else events[i][1] for i in index]


# ---- caching --------------------------------------------------------------------------------------------
def _cache_file(name, key):
    return cache_dir(f"{name}_{hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]}.npz")


def _save(path, clips):
    lengths = [len(w) for w in clips.waveforms]
    arrays = {"waveforms": np.concatenate(clips.waveforms) if clips.waveforms else np.zeros(0, np.float32),
              "lengths": np.array(lengths, np.int64), "speakers": clips.speakers, "groups": clips.groups,
              "speaker_names": np.array(clips.speaker_names)}
    if clips.frame_labels is not None:
        arrays["frame_labels"] = np.concatenate(clips.frame_labels).astype(np.int32)
        arrays["phones"] = np.array(clips.phones)
    save_npz_atomic(path, **arrays)  # a reader never sees half a cache file


def _load(path):
    # Read every array of the .npz once: `saved[name]` decompresses the whole array again on each access,
    # and a slice of it is a view that keeps that copy alive (one full copy per clip: ~20 GB for 13 min).
    with np.load(path) as saved:
        arrays = {name: saved[name] for name in saved.files}
    lengths = arrays["lengths"]

    def pieces(array, sizes):  # consecutive views of `array`, one per size (none for no sizes)
        return np.split(array, np.cumsum(sizes)[:-1]) if len(sizes) else []

    waveforms = pieces(arrays["waveforms"], lengths)
    frame_labels = phones = None
    if "frame_labels" in arrays:
        frame_labels = pieces(arrays["frame_labels"], [num_frames(n) for n in lengths])
        phones = tuple(str(p) for p in arrays["phones"])
    return Clips(waveforms, arrays["speakers"], tuple(str(s) for s in arrays["speaker_names"]), arrays["groups"],
                 frame_labels, phones)


def _resample(wave, rate):
    if rate == SAMPLE_RATE:
        return wave.astype(np.float32)
    from math import gcd

    from scipy.signal import resample_poly

    g = gcd(SAMPLE_RATE, int(rate))
    return resample_poly(wave, SAMPLE_RATE // g, int(rate) // g).astype(np.float32)


# ---- espeak-ng --------------------------------------------------------------------------------------------
class _Event(ctypes.Structure):
    # espeak_EVENT of speak_lib.h (x86-64 / aarch64 layout).
    _fields_ = [("type", ctypes.c_int), ("unique_identifier", ctypes.c_uint), ("text_position", ctypes.c_int),
                ("length", ctypes.c_int), ("audio_position", ctypes.c_int), ("sample", ctypes.c_int),
                ("user_data", ctypes.c_void_p), ("id", ctypes.c_char * 8)]


_EVENT_LIST_TERMINATED, _EVENT_PHONEME = 0, 7
_AUDIO_OUTPUT_SYNCHRONOUS = 2
_INITIALIZE_PHONEME_EVENTS, _INITIALIZE_DONT_EXIT = 0x0001, 0x8000
_RATE = 1
_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.POINTER(_Event))


class Espeak:
    """espeak-ng's C library through ctypes: `say(text, voice, rate)` -> (16 kHz waveform, phone
    onsets). One per process (the library is a singleton).

    Why ctypes: the library reports every phoneme with its audio position (espeakEVENT_PHONEME),
    which the command line only gives for mbrola voices; no PyPI package wraps it with timing.
    """

    _instance = None

    def __new__(cls):
        if cls._instance is None:
            instance = super().__new__(cls)
            try:
                lib = ctypes.CDLL("libespeak-ng.so.1")
            except OSError as error:
                raise OSError("espeak-ng's library is missing: install it with `apt-get install espeak-ng` "
                              "(or `make data-audio`).") from error
            instance.rate = lib.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, 0, None,
                                                  _INITIALIZE_PHONEME_EVENTS | _INITIALIZE_DONT_EXIT)
            if instance.rate <= 0:
                raise OSError(f"espeak_Initialize failed ({instance.rate}); is espeak-ng-data installed?")
            instance.lib, instance._chunks, instance._events = lib, [], []
            instance._callback = _CALLBACK(instance._collect)  # kept alive as long as the library may call it
            lib.espeak_SetSynthCallback(instance._callback)
            cls._instance = instance
        return cls._instance

    def _collect(self, wav, count, events):
        if count > 0:
            self._chunks.append(np.ctypeslib.as_array(wav, (count,)).copy())
        i = 0
        while events[i].type != _EVENT_LIST_TERMINATED:
            if events[i].type == _EVENT_PHONEME:
                self._events.append((events[i].audio_position / 1000.0, events[i].id.decode("ascii", "replace")))
            i += 1
        return 0

    def say(self, text, voice="en-us", rate=175):
        if self.lib.espeak_SetVoiceByName(voice.encode()) != 0:
            raise ValueError(f"`voice` {voice!r} is not an espeak-ng voice (see `espeak-ng --voices`).")
        self.lib.espeak_SetParameter(_RATE, int(rate), 0)
        self._chunks, self._events = [], []
        data = text.encode("utf-8")
        self.lib.espeak_Synth(data, len(data) + 1, 0, 0, 0, 0, None, None)
        self.lib.espeak_Synchronize()
        wave = np.concatenate(self._chunks).astype(np.float32) / 32768.0 if self._chunks else np.zeros(0, np.float32)
        events = [(t, SILENCE if p.startswith("_") else p) for t, p in self._events]
        return _resample(wave, self.rate), events


class ToneEngine:
    """A synthetic speaking engine for smoke tests (no espeak-ng needed): each letter of the text is a
    50 ms tone (its phone is the letter) whose pitch depends on the letter and on the voice, so speakers
    and phones are both learnable. Pass it as `espeak_clips(..., engine=ToneEngine())`.

    Example:
    >>> from kssl.data import audio
    >>> wave, events = audio.ToneEngine().say("ab", "v1", rate=175)
    >>> wave.shape, events
    ((1600,), [(0.0, 'a'), (0.05, 'b')])
    """

    cache_key = "tone-engine-v1"

    def say(self, text, voice, rate=175):
        del rate
        letters = [c for c in text.lower() if c.isalpha()]
        pitch = 150.0 + 40.0 * (sum(map(ord, voice)) % 5)
        t = np.arange(800) / SAMPLE_RATE
        pieces = [np.sin(2 * np.pi * pitch * (1 + (ord(c) % 4) / 2) * t) for c in letters]
        wave = (0.5 * np.concatenate(pieces)).astype(np.float32) if pieces else np.zeros(0, np.float32)
        return wave, [(0.05 * i, c) for i, c in enumerate(letters)]


def espeak_clips(speakers=SPEAKERS, sentences=SENTENCES, rate_range=(150, 200), seed=0, verbose=True, engine=None,
                 pairs=None):
    """Every speaker saying every sentence (or the `pairs` given), with a per-frame phone label: a `Clips`.

    Args:
        speakers: espeak-ng voice names with variants ("en-us+f2").
        sentences: the texts; a clip's `groups` entry is its sentence's index.
        rate_range: words per minute, drawn per clip (seeded) so a speaker's clips differ in pace.
        seed: the random seed.
        verbose: show a progress bar while synthesising (cached afterwards).
        engine: what speaks: `say(text, voice, rate)` -> (16 kHz waveform, [(onset seconds, phone)]);
            default `Espeak()`. Another engine (tests use a synthetic one) gets its own cache entry.
        pairs: None (every speaker says every sentence) or `(speaker index, sentence index)` pairs: the clips
            to say, in order (hours of speech where each sentence is said by a few speakers).

    Example (needs `apt-get install espeak-ng`):
    >>> from kssl.data import audio
    >>> clips = audio.espeak_clips(speakers=("en-us+m1",), sentences=("Hello world.",), verbose=False)  # doctest: +SKIP
    >>> len(clips), clips.speaker_names, clips.phones[:3]  # doctest: +SKIP
    (1, ('en-us+m1',), ('_', 'h', '@'))
    """
    if not speakers or not sentences:
        raise ValueError("`speakers` and `sentences` must be non-empty.")
    speakers, sentences = tuple(speakers), tuple(sentences)
    every = [(s, g) for s in range(len(speakers)) for g in range(len(sentences))]
    todo = every if pairs is None else [(int(s), int(g)) for s, g in pairs]
    if not todo or not all(0 <= s < len(speakers) and 0 <= g < len(sentences) for s, g in todo):
        raise ValueError(f"`pairs` must be non-empty (speaker, sentence) index pairs within {len(speakers)} speakers and "
                         f"{len(sentences)} sentences.")
    key = {"speakers": speakers, "sentences": sentences, "rate_range": list(rate_range), "seed": seed, "version": 1,
           "engine": None if engine is None else getattr(engine, "cache_key", type(engine).__name__)}
    if pairs is not None:
        key["pairs"] = todo
    path = _cache_file("espeak", key)
    if os.path.exists(path):
        return _load(path)
    import keras

    engine = Espeak() if engine is None else engine
    rng = np.random.default_rng(seed)
    waveforms, labels, speaker_ids, groups, phones = [], [], [], [], {SILENCE: 0}
    progress = keras.utils.Progbar(len(todo), verbose=1 if verbose else 0, unit_name="clip")
    for s, g in todo:
        wave, events = engine.say(sentences[g], speakers[s], rate=int(rng.integers(rate_range[0], rate_range[1] + 1)))
        names = frame_labels_from_events(events, len(wave))
        waveforms.append(wave)
        labels.append(np.array([phones.setdefault(p, len(phones)) for p in names], np.int32))
        speaker_ids.append(s)
        groups.append(g)
        progress.add(1)
    clips = Clips(waveforms, np.array(speaker_ids), speakers, np.array(groups), labels, tuple(phones))
    _save(path, clips)
    return clips


# ---- Fillets-NG --------------------------------------------------------------------------------------------
FILLETS_DIR = "/usr/share/games/fillets-ng/sound"


def fillets_clips(path=None, languages=("cs", "nl"), voices=("m", "v"), max_per_speaker=None, min_seconds=0.25, seed=0,
                  verbose=True):
    """Real speech from Fillets-NG (`apt-get install fillets-ng-data-cs fillets-ng-data-nl`): a `Clips`
    whose speakers are `<language>-<voice>`; `groups` ties together the recordings of one line (the
    same file name in another language or voice), so a split by group holds out whole lines.

    Args:
        path: the `sound/` folder (default: $KSSL_DATA_DIR/fillets-ng/sound, then the Debian path).
        languages, voices: which recordings to use (`<who>-<voice>-<word>.ogg`; m: the small fish, v:
            the big fish).
        max_per_speaker: keep at most this many clips per speaker (seeded choice); None keeps all.
        min_seconds: drop recordings shorter than this (the data has a few empty files).
    """
    candidates = [path] if path else ([os.path.join(os.environ["KSSL_DATA_DIR"], "fillets-ng", "sound")]
                                      if os.environ.get("KSSL_DATA_DIR") else []) + [FILLETS_DIR]
    root = next((c for c in candidates if c and os.path.isdir(c)), None)
    if root is None:
        raise FileNotFoundError(
            f"Fillets-NG speech not found in {candidates}: install it with "
            "`apt-get install fillets-ng-data-cs fillets-ng-data-nl` (or `make data-audio`).")
    files = []
    for language in languages:
        for name in sorted(glob.glob(os.path.join(root, "*", language, "*.ogg"))):
            parts = os.path.basename(name)[:-4].split("-")
            if len(parts) >= 3 and parts[1] in voices:
                files.append((f"{language}-{parts[1]}", os.path.basename(os.path.dirname(os.path.dirname(name)))
                              + "/" + "-".join(parts[2:]), name))
    if not files:
        raise FileNotFoundError(f"no <who>-<voice>-<word>.ogg files for {languages}/{voices} under {root}.")
    speaker_names = tuple(sorted({s for s, _, _ in files}))
    if max_per_speaker is not None:
        check_positive_int("max_per_speaker", max_per_speaker)
        rng = np.random.default_rng(seed)
        kept = []
        for speaker in speaker_names:
            mine = [f for f in files if f[0] == speaker]
            kept += [mine[i] for i in sorted(rng.permutation(len(mine))[:max_per_speaker])]
        files = kept
    key = {"root": os.path.abspath(root), "files": [f[2] for f in files], "min_seconds": min_seconds, "version": 1}
    cache = _cache_file("fillets", key)
    if os.path.exists(cache):
        return _load(cache)
    import keras
    import soundfile

    lines = {}
    waveforms, speakers, groups = [], [], []
    progress = keras.utils.Progbar(len(files), verbose=1 if verbose else 0, unit_name="clip")
    for speaker, line, name in files:
        wave, rate = soundfile.read(name, dtype="float32", always_2d=True)
        progress.add(1)
        if len(wave) < min_seconds * rate:
            continue
        waveforms.append(_resample(wave.mean(axis=1), rate))
        speakers.append(speaker_names.index(speaker))
        groups.append(lines.setdefault(line, len(lines)))
    clips = Clips(waveforms, np.array(speakers), speaker_names, np.array(groups))
    _save(cache, clips)
    return clips


# ---- features ----------------------------------------------------------------------------------------------
def mfcc(wave, num_coefficients=13, deltas=True):
    """MFCC frames of one 16 kHz clip with `tf.signal`: 25 ms windows centred on the 10 ms frames
    (ceil(L / 160) of them), 40 mel bands 20-7600 Hz, `num_coefficients` coefficients, plus deltas and
    delta-deltas when `deltas` (39 features by default): `(frames, features)` float32.

    Example:
    >>> import numpy as np
    >>> from kssl.data import audio
    >>> audio.mfcc(np.zeros(1600, "float32")).shape
    (10, 39)
    """
    import tensorflow as tf

    wave = np.asarray(wave, np.float32)
    frames = num_frames(len(wave))
    padded = np.concatenate([np.zeros(120, np.float32), wave])  # 400-sample windows centred on 160 t + 80
    stft = tf.signal.stft(padded, frame_length=400, frame_step=HOP, fft_length=512, pad_end=True)[:frames]
    mel = tf.signal.linear_to_mel_weight_matrix(40, 257, SAMPLE_RATE, 20.0, 7600.0)
    log_mel = tf.math.log(tf.tensordot(tf.abs(stft) ** 2, mel, 1) + 1e-6)
    features = tf.signal.mfccs_from_log_mel_spectrograms(log_mel)[:, :num_coefficients].numpy()
    if deltas:
        d1 = np.gradient(features, axis=0) if frames > 1 else np.zeros_like(features)
        d2 = np.gradient(d1, axis=0) if frames > 1 else np.zeros_like(features)
        features = np.concatenate([features, d1, d2], axis=1)
    return features.astype(np.float32)
