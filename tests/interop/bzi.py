"""A BZI written with Microsoft's Python SDK (azure-storage-queue), for the
interop tests: it reads and checks what linebacker sends, and puts status
replies the way an SDK-based BZI does.

    bzi.py read-request QUEUE ENCODING     prints the request JSON it took
    bzi.py put-status QUEUE ENCODING JSON  puts one status reply

ENCODING is none or base64 (azure_queue.message_encoding). The account comes
from AZURE_ACCOUNT_URI, AZURE_ACCOUNT_NAME and AZURE_ACCOUNT_KEY.
"""

import datetime
import json
import os
import sys
import time

from azure.storage.queue import QueueClient, TextBase64DecodePolicy, TextBase64EncodePolicy

REQUEST_FIELDS = {
    "apiVersion",
    "backupRequestId",
    "backupJobId",
    "dataDate",
    "preparedDataPathName",
    "backupProviderCode",
    "storagePathName",
}


def queue(name, encoding):
    policies = {}
    if encoding == "base64":
        policies = {
            "message_encode_policy": TextBase64EncodePolicy(),
            "message_decode_policy": TextBase64DecodePolicy(),
        }
    elif encoding != "none":
        sys.exit(f"unknown encoding {encoding!r}")
    return QueueClient(
        account_url=os.environ["AZURE_ACCOUNT_URI"],
        queue_name=name,
        credential={"account_name": os.environ["AZURE_ACCOUNT_NAME"], "account_key": os.environ["AZURE_ACCOUNT_KEY"]},
        **policies,
    )


def read_request(client):
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        for message in client.receive_messages(messages_per_page=1, visibility_timeout=30):
            request = json.loads(message.content)
            missing = REQUEST_FIELDS - request.keys()
            extra = request.keys() - REQUEST_FIELDS
            if missing or extra:
                sys.exit(f"not the request contract: missing {sorted(missing)}, extra {sorted(extra)}")
            datetime.date.fromisoformat(request["dataDate"])
            client.delete_message(message)
            print(json.dumps(request))
            return
        time.sleep(0.2)
    sys.exit("no request within 20 s")


def main():
    command, name, encoding = sys.argv[1:4]
    client = queue(name, encoding)
    if command == "read-request":
        read_request(client)
    elif command == "put-status":
        client.send_message(sys.argv[4])
    else:
        sys.exit(f"unknown command {command!r}")


if __name__ == "__main__":
    main()
