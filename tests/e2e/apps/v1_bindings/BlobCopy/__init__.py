import azure.functions as func


def main(blob: func.InputStream, copy: func.Out[str]) -> None:
    copy.set(f"{blob.name} ({blob.length} bytes): {blob.read().decode().upper()}")
