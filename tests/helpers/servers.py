"""A local HTTP server for video sources: byte ranges, a 404, and a stream that stalls."""
import http.server
import time


class RangeHandler(http.server.BaseHTTPRequestHandler):
    """Serves ``/clip.mp4`` from ``server.data`` with byte ranges; ``/stall.mp4`` sends the
    first third of it, then nothing for 5 s."""

    def do_GET(self):  # noqa: N802 - http.server's name
        data = self.server.data
        start, end = 0, len(data) - 1
        ranged = self.headers.get('Range', '').startswith('bytes=')
        if ranged:
            first, _, last = self.headers['Range'][6:].partition('-')
            start, end = int(first or 0), int(last) if last else len(data) - 1
        if self.path not in ('/clip.mp4', '/stall.mp4') or start >= len(data):
            self.send_error(404 if start < len(data) else 416)
            return
        self.send_response(206 if ranged else 200)
        self.send_header('Content-Type', 'video/mp4')
        self.send_header('Accept-Ranges', 'bytes')
        self.send_header('Content-Length', str(end - start + 1))
        if ranged:
            self.send_header('Content-Range', f'bytes {start}-{end}/{len(data)}')
        self.end_headers()
        body = data[start:end + 1]
        try:
            if self.path == '/stall.mp4':
                self.wfile.write(body[:len(data) // 3])
                self.wfile.flush()
                time.sleep(5)
            self.wfile.write(body)
        except OSError:  # the client gave up
            pass

    def log_message(self, *args):
        pass
