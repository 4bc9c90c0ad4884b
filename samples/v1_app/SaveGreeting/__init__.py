"""An activity that writes the greetings to a blob through a blob output binding."""

import json

import azure.functions as func


def main(result: dict, outputBlob: func.Out[str]) -> str:
    outputBlob.set(json.dumps(result))
    return "saved"
