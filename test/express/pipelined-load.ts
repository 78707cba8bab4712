/**
 * A light load generator for soak tests: a few keep-alive connections, each with up to `depth` HTTP/1.1
 * requests in flight (pipelined), so the application, not the client, is what the CPU is spent on. Answers
 * must carry Content-Length (express sets it on everything the soak application sends).
 */
import * as net from 'node:net';

export function pipelinedLoad(port: number, paths: readonly string[], total: number, connections = 8, depth = 32): Promise<number> {
  let issued = 0;
  let answered = 0;
  return new Promise((resolve, reject) => {
    let open = connections;
    for (let c = 0; c < connections; c++) {
      const socket = net.connect(port, '127.0.0.1');
      let buffered = Buffer.alloc(0);
      let inflight = 0;
      const sendMore = () => {
        let out = '';
        while (inflight < depth && issued < total) {
          out += `GET ${paths[issued % paths.length]} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n`;
          issued++;
          inflight++;
        }
        if (out !== '') socket.write(out);
        else if (inflight === 0) socket.end();
      };
      socket.on('connect', sendMore);
      socket.on('data', (chunk: Buffer) => {
        buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk]);
        for (;;) {
          const headEnd = buffered.indexOf('\r\n\r\n');
          if (headEnd === -1) break;
          const head = buffered.toString('latin1', 0, headEnd);
          const length = /\r\ncontent-length: *(\d+)/i.exec(head);
          if (length === null) {
            socket.destroy();
            reject(new Error(`answer without Content-Length: ${head}`));
            return;
          }
          const end = headEnd + 4 + Number(length[1]);
          if (buffered.length < end) break;
          buffered = buffered.subarray(end);
          inflight--;
          answered++;
        }
        sendMore();
      });
      socket.on('error', reject);
      socket.on('close', () => {
        if (--open === 0) resolve(answered);
      });
    }
  });
}
