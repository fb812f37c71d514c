"""kssl.audio: the espeak and Fillets-NG builders (labels, cache, splits), framing and MFCCs.

The builders are tested with a synthetic speaking engine and tiny generated .ogg files, so nothing here
needs espeak-ng or the Fillets-NG package; one extra test speaks a sentence with the real espeak-ng
when its library is installed (`make data-audio`)."""

import ctypes.util
import os
import shutil

import numpy as np
import pytest

from kssl.data import audio


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("KSSL_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


class ToneEngine:
    """Speaks each letter of the text as a 50 ms tone whose pitch depends on the voice: phones = letters."""

    cache_key = "tones-v1"

    def __init__(self):
        self.calls = 0

    def say(self, text, voice, rate):
        self.calls += 1
        letters = [c for c in text.lower() if c.isalpha()]
        pitch = 200 + 50 * (sum(map(ord, voice)) % 7)
        t = np.arange(800) / audio.SAMPLE_RATE
        wave = np.concatenate([np.sin(2 * np.pi * pitch * (1 + i % 3) * t) for i in range(len(letters))])
        events = [(0.05 * i, letter) for i, letter in enumerate(letters)]
        return wave.astype(np.float32) * 0.5, events


def test_espeak_builder_labels_every_frame_and_caches(cache):
    engine = ToneEngine()
    clips = audio.espeak_clips(speakers=("v1", "v2"), sentences=("abc", "ba", "cab d"), engine=engine, verbose=False)
    assert len(clips) == 6 and engine.calls == 6
    assert clips.seconds() == sum(len(w) for w in clips.waveforms) / audio.SAMPLE_RATE > 0
    assert clips.speaker_names == ("v1", "v2") and clips.speakers.tolist() == [0, 0, 0, 1, 1, 1]
    assert clips.groups.tolist() == [0, 1, 2, 0, 1, 2]
    for wave, labels in zip(clips.waveforms, clips.frame_labels):
        assert len(labels) == audio.num_frames(len(wave))
    # "abc": 50 ms = 5 frames per letter.
    names = [clips.phones[i] for i in clips.frame_labels[0]]
    assert names == ["a"] * 5 + ["b"] * 5 + ["c"] * 5
    # Built once: the second call reads the cache (the engine is not called), with identical arrays.
    files = os.listdir(cache)
    assert len(files) == 1 and files[0].endswith(".npz")
    again = audio.espeak_clips(speakers=("v1", "v2"), sentences=("abc", "ba", "cab d"), engine=engine, verbose=False)
    assert engine.calls == 6
    for a, b in zip(clips.waveforms + clips.frame_labels, again.waveforms + again.frame_labels):
        np.testing.assert_array_equal(a, b)
    assert again.phones == clips.phones
    # A different seed is another dataset (another cache entry).
    audio.espeak_clips(speakers=("v1",), sentences=("ab",), seed=1, engine=engine, verbose=False)
    assert len(os.listdir(cache)) == 2


def test_espeak_builder_says_only_the_pairs_asked_for(cache):
    engine = ToneEngine()
    every = audio.espeak_clips(speakers=("v1", "v2"), sentences=("abc", "ba", "cab d"), engine=engine, verbose=False)
    some = audio.espeak_clips(speakers=("v1", "v2"), sentences=("abc", "ba", "cab d"), engine=engine, verbose=False,
                              pairs=[(1, 2), (0, 1)])
    assert engine.calls == 6 + 2 and len(some) == 2
    assert some.speakers.tolist() == [1, 0] and some.groups.tolist() == [2, 1]
    assert [some.phones[i] for i in some.frame_labels[0][::5]] == ["c", "a", "b", "d"]  # ToneEngine: a space is no phone
    assert len(os.listdir(cache)) == 2  # its own cache entry, next to the all-pairs one
    assert len(every) == 6
    with pytest.raises(ValueError, match="`pairs` must be non-empty"):
        audio.espeak_clips(speakers=("v1",), sentences=("ab",), engine=engine, verbose=False, pairs=[(0, 3)])


def test_many_espeak_speakers_and_corpus_sentences():
    speakers = audio.espeak_speakers(96)
    assert len(set(speakers)) == 96 and {v.split("+")[0] for v in speakers[:8]} == set(audio.ACCENTS)
    assert {v.split("+")[1][0] for v in speakers[:4]} == {"f", "m"}
    with pytest.raises(ValueError, match="`count` must be <= 96"):
        audio.espeak_speakers(97)
    sentences = ["one two three four five", "a b", "one two three four five", "six seven eight nine ten eleven"]
    assert audio.corpus_sentences(sentences, 2, seed=0) == ("one two three four five", "six seven eight nine ten eleven")
    with pytest.raises(ValueError, match="exceeds the 2 distinct sentences"):
        audio.corpus_sentences(sentences, 3)


def test_cache_load_keeps_one_copy_of_the_audio(cache):
    """Regression: loading the .npz once per clip kept a full copy of the corpus alive per clip (the
    espeak corpus, 50 MB of audio, took 19.7 GB and was OOM-killed)."""
    sentences = tuple("abcdefghijkl")
    built = audio.espeak_clips(speakers=("v1", "v2"), sentences=sentences, engine=ToneEngine(), verbose=False)
    loaded = audio.espeak_clips(speakers=("v1", "v2"), sentences=sentences, engine=ToneEngine(), verbose=False)
    for arrays in (loaded.waveforms, loaded.frame_labels):
        held = {id(a.base): a.base.nbytes for a in arrays if a.base is not None}
        assert sum(held.values()) <= sum(a.nbytes for a in arrays)  # views of one array, not one copy per clip
    for a, b in zip(built.waveforms + built.frame_labels, loaded.waveforms + loaded.frame_labels):
        np.testing.assert_array_equal(a, b)
    train, _ = loaded.split(0.25, seed=0)
    assert [len(w) for w in train.waveforms] == [len(w) for w in built.split(0.25, seed=0)[0].waveforms]


def test_split_holds_out_whole_sentences():
    clips = audio.espeak_clips(speakers=("v1", "v2", "v3"), sentences=tuple("abcdefgh"), engine=ToneEngine(), verbose=False)
    train, test = clips.split(0.25, seed=0)
    assert len(train) + len(test) == len(clips) and len(test) == 3 * 2
    assert not set(train.groups) & set(test.groups)
    assert set(test.speakers) == set(train.speakers) == {0, 1, 2}
    assert [len(x) for x in test.frame_labels] == [audio.num_frames(len(w)) for w in test.waveforms]
    with pytest.raises(ValueError, match="`test_fraction` must be a number in \\(0, 1\\)"):
        clips.split(1.0)


def test_crops_are_windows_of_the_clips():
    wave = np.arange(1000, dtype=np.float32)
    clips = audio.Clips([wave, wave[:300]], np.array([0, 0]), ("s",), np.array([0, 1]))
    crops = clips.crops(400, per_clip=3, seed=0)
    assert crops.shape == (6, 400)
    for crop in crops[:3]:  # a contiguous piece of the first clip
        np.testing.assert_array_equal(crop, wave[int(crop[0]) : int(crop[0]) + 400])
    np.testing.assert_array_equal(crops[3, :300], wave[:300])  # shorter clip: zero-padded
    assert not crops[3, 300:].any()
    with pytest.raises(ValueError, match="`samples` must be an integer >= 1"):
        clips.crops(0)


def test_frame_labels_follow_onsets():
    labels = audio.frame_labels_from_events([(0.0, "a"), (0.0149, "b"), (0.0151, "c")], samples=480)
    # frame centres at 5, 15, 25 ms: "b" starts before 15 ms, "c" just after
    assert labels == ["a", "b", "c"]
    assert audio.frame_labels_from_events([], samples=161) == ["_", "_"]


@pytest.mark.parametrize("samples", [160, 1599, 1600, 16000])
def test_mfcc_frames_match_the_cpc_frames(samples):
    wave = np.sin(np.arange(samples) * 0.3).astype(np.float32)
    features = audio.mfcc(wave)
    assert features.shape == (audio.num_frames(samples), 39) and np.isfinite(features).all()
    assert audio.mfcc(wave, num_coefficients=20, deltas=False).shape == (audio.num_frames(samples), 20)



# MFCC window centring: frame t is CPC's step t, samples [160 t, 160 t + 160), so its 25 ms (400-sample)
# analysis window must be centred on sample 160 t + 80 and cover samples [160 t - 120, 160 t + 280).
@pytest.mark.parametrize("click, frame", [(15, 0), (80, 0), (1000, 6), (1200, 7), (2000, 12), (3199, 19)])
def test_mfcc_click_lands_in_the_frame_whose_centre_is_nearest(click, frame):
    # Worked by hand: centres are 80, 240, 400, ...; 1000 is 40 from 1040 (t=6) and 120 from 880 (t=5);
    # 1200 and 2000 are the centres of t=7 and t=12; 3199 is 39 from 3160 (t=19, the last of 3200 samples).
    wave = np.zeros(3200, np.float32)
    wave[click] = 1.0
    c0 = audio.mfcc(wave, deltas=False)[:, 0]  # c0 ~ the frame's mean log-mel energy
    assert int(np.argmax(c0)) == frame
    # Frames whose window holds the click at a non-zero weight (the periodic Hann window is 0 at its first sample).
    covers = [160 * t - 120 < click < 160 * t + 280 for t in range(len(c0))]
    silent = c0[~np.array(covers)]
    assert silent.size and np.ptp(silent) == 0  # frames whose window misses the click hear nothing
    assert (c0[np.array(covers)] > silent[0]).all()


def test_mfcc_matches_a_numpy_transcription_of_centred_frames():
    import tensorflow as tf

    wave = np.random.default_rng(0).normal(size=1700).astype(np.float32)  # 11 frames, the last one partial
    frames = audio.num_frames(len(wave))
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(400) / 400)  # periodic Hann, tf.signal.stft's default
    spectra = []
    for t in range(frames):
        centre = 160 * t + 80
        segment = np.zeros(400)
        for n in range(400):  # samples centre - 200 .. centre + 199, zero outside the clip
            if 0 <= centre - 200 + n < len(wave):
                segment[n] = wave[centre - 200 + n]
        spectra.append(np.abs(np.fft.rfft(segment * window, n=512)) ** 2)
    mel = tf.signal.linear_to_mel_weight_matrix(40, 257, audio.SAMPLE_RATE, 20.0, 7600.0).numpy()
    log_mel = np.log(np.array(spectra) @ mel + 1e-6).astype(np.float32)
    expected = tf.signal.mfccs_from_log_mel_spectrograms(log_mel)[:, :13].numpy()
    np.testing.assert_allclose(audio.mfcc(wave, deltas=False), expected, rtol=1e-3, atol=1e-3)
    np.testing.assert_allclose(audio.mfcc(wave)[:, :13], expected, rtol=1e-3, atol=1e-3)

def write_fillets(root, rate=22050):
    import soundfile

    rng = np.random.default_rng(0)
    for level, lang, name in [("aztec", "cs", "bot-m-ahoj"), ("aztec", "cs", "bot-v-ahoj"), ("barrel", "cs", "bot-m-nic"),
                              ("aztec", "nl", "bot-m-ahoj"), ("aztec", "nl", "bot-x-ahoj"), ("barrel", "nl", "bot-v-nic")]:
        os.makedirs(root / level / lang, exist_ok=True)
        soundfile.write(str(root / level / lang / f"{name}.ogg"), rng.uniform(-0.3, 0.3, rate // 2), rate)
    soundfile.write(str(root / "barrel" / "cs" / "bot-v-ticho.ogg"), np.zeros(rate // 100), rate)  # 10 ms: dropped


def test_fillets_builder_reads_resamples_and_labels_speakers(tmp_path):
    write_fillets(tmp_path / "sound")
    clips = audio.fillets_clips(path=str(tmp_path / "sound"), verbose=False)
    assert clips.speaker_names == ("cs-m", "cs-v", "nl-m", "nl-v")  # "x" is not one of the voices
    assert len(clips) == 5 and clips.frame_labels is None
    for wave in clips.waveforms:  # half a second at 22.05 kHz -> 8000 samples at 16 kHz
        assert wave.dtype == np.float32 and abs(len(wave) - 8000) <= 1
    # The same line (level + word) in any language or voice is one group.
    names = [clips.speaker_names[s] for s in clips.speakers]
    group = dict(zip(zip(names, clips.groups.tolist()), clips.groups.tolist()))
    assert len(set(clips.groups.tolist())) == 2 and len(group) == 5
    one = audio.fillets_clips(path=str(tmp_path / "sound"), max_per_speaker=1, verbose=False)
    assert sorted(one.speakers.tolist()) == [0, 1, 2, 3]


def test_fillets_missing_names_the_install_command(tmp_path, monkeypatch):
    monkeypatch.setattr(audio, "FILLETS_DIR", str(tmp_path / "nowhere"))
    monkeypatch.delenv("KSSL_DATA_DIR", raising=False)
    with pytest.raises(FileNotFoundError, match="apt-get install fillets-ng-data-cs fillets-ng-data-nl"):
        audio.fillets_clips(verbose=False)


@pytest.mark.skipif(shutil.which("espeak-ng") is None or ctypes.util.find_library("espeak-ng") is None,
                    reason="espeak-ng is not installed (`make data-audio`); the builder is tested above with a synthetic engine")
def test_real_espeak_speaks_with_phone_timing():
    clips = audio.espeak_clips(speakers=("en-us+m1", "en+f2"), sentences=("The birch canoe slid.",), verbose=False)
    assert len(clips) == 2
    for wave, labels in zip(clips.waveforms, clips.frame_labels):
        assert 0.5 < len(wave) / audio.SAMPLE_RATE < 5 and np.abs(wave).max() > 0.05
        assert len(labels) == audio.num_frames(len(wave))
        assert len(set(labels.tolist())) >= 8  # D, @, b, 3:, tS, k, n, u:, s, l, I, d ... not only silence
    assert "b" in clips.phones and "k" in clips.phones
    with pytest.raises(ValueError, match="`voice` 'no-such-voice' is not an espeak-ng voice"):
        audio.Espeak().say("hello", "no-such-voice")


def test_cpc_audio_example_end_to_end(tmp_path, cache):
    """examples/cpc_audio.py on the synthetic tone speakers (no espeak-ng needed), tiny settings: it
    pretrains, probes every feature set and writes the speaker and phone rows."""
    import json
    import subprocess
    import sys

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    out = tmp_path / "out"
    command = [sys.executable, os.path.join(root, "examples", "cpc_audio.py"), "--data", "tones", "--speakers", "2",
               "--sentences", "4", "--epochs", "1", "--batch_size", "4", "--window", "3200", "--width", "8",
               "--context_dim", "8", "--prediction_steps", "3", "--probe_frames", "300", "--crops_per_clip", "1",
               "--test_fraction", "0.5", "--out", str(out)]
    env = {**os.environ, "KSSL_CACHE": str(cache), "CUDA_VISIBLE_DEVICES": ""}
    result = subprocess.run(command, capture_output=True, text=True, timeout=300, env=env, cwd=root)
    assert result.returncode == 0, result.stderr[-3000:]
    results = json.loads((out / "results.json").read_text())
    for row in ("cpc_context", "cpc_latent", "random_init_context", "random_init_latent", "mfcc", "chance"):
        assert set(results[row]) == {"speaker", "phone"}
    assert results["run"]["speakers"] == 2 and results["run"]["test_clips"] == 4
    assert results["chance"]["speaker"] == 0.5, results["chance"]  # the majority class of 2 balanced speakers
    # ToneEngine's speakers differ in pitch: MFCCs beat the majority class on held-out clips (0.75 of 4 here).
    assert results["mfcc"]["speaker"] > results["chance"]["speaker"], results
    assert np.isfinite(results["run"]["final_loss"]) and results["run"]["chance_loss"] > 0


def test_read_ahead_gives_frame_t_the_features_of_frame_t_plus_n():
    from kssl.eval import audio as speech

    clips = [np.arange(6, dtype="float32")[:, None] * [1, 10], np.zeros((1, 2), "float32")]
    ahead = speech.read_ahead(clips, 3)
    assert ahead[0][:, 0].tolist() == [3, 4, 5, 5, 5, 5] and ahead[0].shape == (6, 2) and ahead[1].shape == (1, 2)
    assert speech.read_ahead(clips, 0)[0].tolist() == clips[0].tolist()
    for bad in (-1, 1.5, True):
        with pytest.raises(ValueError, match="`frames` must be an integer >= 0"):
            speech.read_ahead(clips, bad)


def test_cpc_audio_batches_are_the_shuffled_crops_without_holding_them():
    import types

    import tensorflow as tf

    from kssl.methods import registry

    rng = np.random.default_rng(0)
    clips = audio.Clips([rng.normal(size=n).astype("float32") for n in (900, 1500, 400, 2000)], np.arange(4),
                        tuple("abcd"), groups=np.arange(4))
    data, options = types.SimpleNamespace(train=clips), {"window": 640, "crops_per_clip": 3}
    batches = [b.numpy() for b in registry._cpc_audio_batches(None, data, options, batch_size=4, seed=3)]
    # What the pipeline did when it held every crop: the same seeded shuffle of the materialised crops.
    crops = clips.crops(640, per_clip=3, seed=3)[..., None]
    held = [b.numpy() for b in tf.data.Dataset.from_tensor_slices(crops).shuffle(len(crops), seed=3).batch(4, drop_remainder=True)]
    assert len(batches) == len(held) == 3 and batches[0].shape == (4, 640, 1)
    for new, old in zip(batches, held):
        np.testing.assert_array_equal(new, old)
    assert not np.array_equal(batches[0], crops[:4])  # shuffled


def test_chance_loss_counts_the_candidates_of_each_kind_of_negatives():
    from kssl.eval import audio as speech

    steps = audio.num_frames(8000)  # 50
    assert speech.chance_loss(4, 8000, 2) == pytest.approx(np.mean([np.log(4 * 49), np.log(4 * 48)]))
    assert speech.chance_loss(4, 8000, 2, negatives="sequence") == pytest.approx(np.mean([np.log(steps - 1), np.log(steps - 2)]))
    with pytest.raises(ValueError, match="`negatives` must be one of"):
        speech.chance_loss(4, 8000, 2, negatives="speaker")
