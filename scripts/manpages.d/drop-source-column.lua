-- pandoc filter for twinbeat-ha.cf(5): drops the table column headed "implemented in", and
-- the paragraph that introduces it (the one that names it in quotes). docs/config.md keeps
-- that column for developers (where each directive acts, under src/twinbeat/); on a node's
-- man page it only narrows the columns an admin reads.
local DROPPED = "implemented in"

local function without(list, index)
  local kept = pandoc.List()
  for i, item in ipairs(list) do
    if i ~= index then kept:insert(item) end
  end
  return kept
end

local function drop_cells(rows, index)
  for _, row in ipairs(rows) do
    row.cells = without(row.cells, index)
  end
end

-- Column widths in proportion to the square root of the mean length of their cells' text
-- (at least MIN_SHARE each): pandoc's man writer otherwise gives every column the same
-- width, and the long "twinbeat" column wraps at every other word; the root keeps the short
-- columns wide enough for a directive's name.
local MIN_SHARE = 0.15

local function widths(tbl, columns)
  local sums, counts = {}, {}
  for c = 1, columns do sums[c], counts[c] = 0, 0 end
  for _, body in ipairs(tbl.bodies) do
    for _, row in ipairs(body.body) do
      for c, cell in ipairs(row.cells) do
        sums[c] = sums[c] + #pandoc.utils.stringify(cell.contents)
        counts[c] = counts[c] + 1
      end
    end
  end
  local means, total = {}, 0
  for c = 1, columns do
    means[c] = math.sqrt(counts[c] > 0 and sums[c] / counts[c] or 1)
    total = total + means[c]
  end
  local shares, share_total = {}, 0
  for c = 1, columns do
    shares[c] = math.max(means[c] / total, MIN_SHARE)
    share_total = share_total + shares[c]
  end
  for c = 1, columns do shares[c] = shares[c] / share_total end
  return shares
end

function Para(para)
  if pandoc.utils.stringify(para):find('"' .. DROPPED .. '" column', 1, true) then
    return {}
  end
  return nil
end

function Table(tbl)
  local header = tbl.head.rows[1]
  if not header then return nil end
  local index
  for i, cell in ipairs(header.cells) do
    if pandoc.utils.stringify(cell.contents) == DROPPED then index = i end
  end
  if not index then return nil end
  drop_cells(tbl.head.rows, index)
  for _, body in ipairs(tbl.bodies) do
    drop_cells(body.head, index)
    drop_cells(body.body, index)
  end
  drop_cells(tbl.foot.rows, index)
  local specs = without(tbl.colspecs, index)
  for c, share in ipairs(widths(tbl, #specs)) do
    specs[c] = {specs[c][1], share}
  end
  tbl.colspecs = specs
  return tbl
end
