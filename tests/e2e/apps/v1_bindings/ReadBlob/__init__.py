import azure.functions as func


def main(req: func.HttpRequest, content: str | None) -> func.HttpResponse:
    if content is None:
        return func.HttpResponse("no such blob", status_code=404)
    return func.HttpResponse(content)
