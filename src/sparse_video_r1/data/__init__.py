"""Datasets as verl training files: NExT-QA, NExT-GQA and the embedded synthetic benchmark."""
