"""The recording kinds Bitbox's processors read, registered through the ``bitbox.kinds`` entry points.

They are declared here, with the processors, exactly as a plugin declares its own kind (see
:mod:`bitbox.kinds`): the core knows none of them by name.
"""
from __future__ import annotations

from bitbox.kinds import Kind

__all__ = ["VIDEO", "AUDIO", "EEG", "TEXT"]

#: Video files (PyAV/FFmpeg decodes their frames and their audio track).
VIDEO = Kind("video", extensions=(".mp4", ".m4v", ".mov", ".avi", ".mkv", ".webm", ".mpg", ".mpeg", ".wmv", ".flv",
                                  ".mts", ".m2ts", ".3gp"),
             description="video (frames and the audio track)", streams=("video", "audio"))
#: Audio files (libsndfile or FFmpeg).
AUDIO = Kind("audio", extensions=(".wav", ".flac", ".mp3", ".ogg", ".oga", ".opus", ".m4a", ".aac"),
             description="sound", streams=("audio",))
#: EEG recordings in the formats MNE-Python reads.
EEG = Kind("eeg", extensions=(".edf", ".bdf", ".gdf", ".fif", ".vhdr", ".set"),
           description="EEG (EDF, BDF, GDF, FIF, BrainVision, EEGLAB; read with MNE-Python)")
#: Written or transcribed text: plain text, a timed JSON transcript, SubRip subtitles.
TEXT = Kind("text", extensions=(".txt", ".json", ".srt"), description="text or a transcript (TXT, JSON, SRT)")
