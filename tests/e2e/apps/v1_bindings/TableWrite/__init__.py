import json

import azure.functions as func


def main(req: func.HttpRequest, row: func.Out[str]) -> func.HttpResponse:
    row.set(json.dumps(req.get_json()))
    return func.HttpResponse(status_code=201)
