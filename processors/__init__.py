"""Bitbox's built-in processors (``bitbox.processors``).

They register through the ``bitbox.processors`` entry-point group exactly as a third-party
plugin would; use them by name (``bitbox.process(path, processors=["face"])``).

- ``face`` (:class:`bitbox.processors.face.FaceProcessor`): landmarks, head pose, blinks,
  gaze and expression descriptors from video.
- ``pose`` (:class:`bitbox.processors.pose.PoseProcessor`): body landmarks, motion energy,
  segment speeds, posture, gestures and hand-to-face events from video.
- ``eeg`` (:class:`bitbox.processors.eeg.EegProcessor`): MNE-based reading and preprocessing,
  band powers, alpha peak and ERP component measures from EEG recordings
  (:mod:`bitbox.processors.eeg_simulation` simulates EEG with known truth).
- ``speech`` (:class:`bitbox.processors.speech.SpeechProcessor`): voice activity, pauses,
  speech and articulation rate, pitch, intensity, voice quality, formants, MFCC, eGeMAPS
  from audio or a video's audio track.
- ``speakers`` (:class:`bitbox.processors.speakers.SpeakersProcessor`): who spoke when (offline
  diarization with a d-vector encoder), per-speaker talk time, turns, rate, F0 and pauses, and
  turn-taking; reads and writes RTTM (:mod:`bitbox.processors.rttm`).
- ``language`` (:class:`bitbox.processors.language.LanguageProcessor`): transcript measures
  from a text transcript, or from audio transcribed offline
  (:mod:`bitbox.processors.text.transcript` reads transcripts and runs Whisper).
- ``voice_windows`` (:class:`bitbox.processors.voice_windows.VoiceWindowsProcessor`): eGeMAPS
  functionals and MFCC means per sliding window, for window-level classifiers.
- ``narrative`` (:class:`bitbox.processors.narrative.NarrativeProcessor`): cognitive span
  categories (action, location, time, social interaction, emotion, thought, the senses) in
  narratives, with a span model (:mod:`bitbox.processors.span_model`) over the annotation
  format of :mod:`bitbox.processors.narrative_format`.
"""
