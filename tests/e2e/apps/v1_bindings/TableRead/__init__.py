import azure.functions as func


def main(req: func.HttpRequest, row: str | None) -> func.HttpResponse:
    if row is None:
        return func.HttpResponse("no such row", status_code=404)
    return func.HttpResponse(row, mimetype="application/json")
