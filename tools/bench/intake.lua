-- wrk script: POST /v1/items with one photo as multipart/form-data.
-- The photo path comes from the BOOMER_BENCH_PHOTO environment variable.
local path = os.getenv("BOOMER_BENCH_PHOTO")
local f = assert(io.open(path, "rb"))
local photo = f:read("*a")
f:close()

local boundary = "boomerbenchboundary7d3c"
wrk.method = "POST"
wrk.path = "/v1/items"
wrk.headers["Content-Type"] = "multipart/form-data; boundary=" .. boundary
wrk.body = "--" .. boundary .. "\r\n" ..
    "Content-Disposition: form-data; name=\"photo\"; filename=\"photo.jpg\"\r\n" ..
    "Content-Type: image/jpeg\r\n\r\n" .. photo .. "\r\n" ..
    "--" .. boundary .. "\r\n" ..
    "Content-Disposition: form-data; name=\"title_hint\"\r\n\r\nbench item\r\n" ..
    "--" .. boundary .. "--\r\n"

done = function(summary, latency, requests)
    io.write(string.format("latency_p50_ms %.2f\n", latency:percentile(50) / 1000))
    io.write(string.format("latency_p99_ms %.2f\n", latency:percentile(99) / 1000))
end
