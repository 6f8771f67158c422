-- pandoc -t man --lua-filter docs/man/man.lua PAGE.md: sup's man pages from its Markdown docs.
--
--  * A fenced div `::: {include="../unit-format.md"}` is replaced by that document (relative to
--    the page's source), so that a page can hold a whole doc instead of a second copy of it. The
--    doc's own title (its level-1 heading) is dropped and its other headings move up one level:
--    its sections become the page's (upper case, as man(7) has them).
--  * A table becomes a list, its first column the items' tags and the other columns labelled
--    paragraphs under each: tbl(1) tables as wide as the docs' do not fit 80 columns, and groff
--    warns about every cell it cannot break.

local base = (PANDOC_STATE.input_files[1] or ''):match('^(.*)/') or '.'

local function upper(block)
  return pandoc.walk_block(block, {
    Str = function(s) return pandoc.Str(pandoc.text.upper(s.text)) end,
    Code = function(c) return pandoc.Code(pandoc.text.upper(c.text)) end,
  })
end

local function include(path)
  local f = assert(io.open((path:sub(1,1) == "/" and path or base .. "/" .. path), 'r'))
  local doc = pandoc.read(f:read('a'), 'markdown')
  f:close()
  local out = pandoc.List()
  local titled = false
  for _, b in ipairs(doc.blocks) do
    if b.t == 'Header' and b.level == 1 and not titled then
      titled = true
    elseif b.t == 'Header' then
      b.level = b.level - 1
      out:insert(b.level == 1 and upper(b) or b)
    else
      out:insert(b)
    end
  end
  return out
end

local function inlines_of(cell)
  local out = pandoc.List()
  for _, b in ipairs(cell.contents) do
    if b.content then
      if #out > 0 then out:insert(pandoc.Space()) end
      out:extend(b.content)
    end
  end
  return out
end

local function table_to_list(t)
  local heads = {}
  for i, c in ipairs(t.head.rows[1].cells) do heads[i] = pandoc.utils.stringify(c.contents) end
  local items = pandoc.List()
  for _, body in ipairs(t.bodies) do
    for _, row in ipairs(body.body) do
      local defs = pandoc.List()
      for j = 2, #row.cells do
        local inl = inlines_of(row.cells[j])
        if #inl > 0 then
          defs:insert(pandoc.Para(pandoc.List({ pandoc.Emph({ pandoc.Str(heads[j] .. ':') }), pandoc.Space() }) .. inl))
        end
      end
      items:insert({ inlines_of(row.cells[1]), { defs } })
    end
  end
  -- GitHub reads `a\|b` in a table cell as a|b; pandoc keeps the backslash in code.
  return pandoc.walk_block(pandoc.DefinitionList(items), {
    Code = function(c) return pandoc.Code((c.text:gsub('\\|', '|'))) end,
  })
end

function Pandoc(doc)
  local blocks = pandoc.List()
  for _, b in ipairs(doc.blocks) do
    if b.t == 'Div' and b.attributes.include then
      blocks:extend(include(b.attributes.include))
    else
      blocks:insert(b)
    end
  end
  doc.blocks = pandoc.walk_block(pandoc.Div(blocks), { Table = table_to_list }).content
  return doc
end
