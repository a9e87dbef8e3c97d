package repocheck

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"go.yaml.in/yaml/v3"
)

// RegenerateCommand is what a user runs, from the repository's root, to
// write the README's tables again after action.yml changed.
const RegenerateCommand = "go run ./repocheck/cmd/readme-tables"

// Table names: each sits in the README between "<!-- NAME:start -->" and
// "<!-- NAME:end -->".
const (
	InputsTable  = "inputs"
	OutputsTable = "outputs"
)

// field is an input or output of action.yml, in the file's order.
type field struct {
	Name        string
	Description string
	Required    bool
	Default     string
}

// actionFields reads action.yml's inputs and outputs, keeping their order.
func actionFields(actionYML []byte) (inputs, outputs []field, err error) {
	var doc yaml.Node
	if err := yaml.Unmarshal(actionYML, &doc); err != nil {
		return nil, nil, fmt.Errorf("action.yml is not valid YAML: %w", err)
	}
	if len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode {
		return nil, nil, fmt.Errorf("action.yml is not a mapping")
	}
	top := doc.Content[0]
	section := func(key string) ([]field, error) {
		for i := 0; i+1 < len(top.Content); i += 2 {
			if top.Content[i].Value != key {
				continue
			}
			m := top.Content[i+1]
			if m.Kind != yaml.MappingNode {
				return nil, fmt.Errorf("action.yml line %d: %s is not a mapping", m.Line, key)
			}
			var fs []field
			for j := 0; j+1 < len(m.Content); j += 2 {
				var v struct {
					Description string `yaml:"description"`
					Required    bool   `yaml:"required"`
					Default     string `yaml:"default"`
				}
				if err := m.Content[j+1].Decode(&v); err != nil {
					return nil, fmt.Errorf("action.yml line %d: %s.%s: %w", m.Content[j].Line, key, m.Content[j].Value, err)
				}
				fs = append(fs, field{Name: m.Content[j].Value, Description: v.Description, Required: v.Required, Default: v.Default})
			}
			return fs, nil
		}
		return nil, fmt.Errorf("action.yml has no %s", key)
	}
	if inputs, err = section("inputs"); err != nil {
		return nil, nil, err
	}
	if outputs, err = section("outputs"); err != nil {
		return nil, nil, err
	}
	return inputs, outputs, nil
}

// cell makes text safe in a Markdown table cell: on one line, no column
// break, and no "<…>" that a renderer would take for an HTML tag.
func cell(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	return strings.NewReplacer("|", `\|`, "<", "&lt;").Replace(s)
}

const generatedNote = "<!-- Generated from action.yml: edit action.yml, then run `" + RegenerateCommand + "`. -->\n"

// ActionTables returns the README's input and output tables, made from
// action.yml: name, default ("required" for a required input without
// one) and description, in action.yml's order.
func ActionTables(actionYML []byte) (map[string]string, error) {
	inputs, outputs, err := actionFields(actionYML)
	if err != nil {
		return nil, err
	}
	var in strings.Builder
	in.WriteString(generatedNote + "| input | default | description |\n|---|---|---|\n")
	for _, f := range inputs {
		def := ""
		switch {
		case f.Default != "":
			def = "`" + cell(f.Default) + "`"
		case f.Required:
			def = "required"
		}
		fmt.Fprintf(&in, "| `%s` | %s | %s |\n", f.Name, def, cell(f.Description))
	}
	var out strings.Builder
	out.WriteString(generatedNote + "| output | description |\n|---|---|\n")
	for _, f := range outputs {
		fmt.Fprintf(&out, "| `%s` | %s |\n", f.Name, cell(f.Description))
	}
	return map[string]string{InputsTable: in.String(), OutputsTable: out.String()}, nil
}

// markers returns the lines that open and close a generated table.
func markers(name string) (start, end string) {
	return "<!-- " + name + ":start -->\n", "<!-- " + name + ":end -->"
}

// Between returns what doc holds between name's markers.
func Between(doc []byte, name string) (string, error) {
	start, end := markers(name)
	i := bytes.Index(doc, []byte(start))
	j := bytes.Index(doc, []byte(end))
	switch {
	case i < 0 || j < 0:
		return "", fmt.Errorf("no %q … %q markers: put them on lines of their own where the %s table goes", strings.TrimSpace(start), end, name)
	case bytes.Count(doc, []byte(start)) > 1 || bytes.Count(doc, []byte(end)) > 1:
		return "", fmt.Errorf("the %s markers appear more than once: keep one pair", name)
	case j < i:
		return "", fmt.Errorf("%q comes before %q: swap them", end, strings.TrimSpace(start))
	}
	return string(doc[i+len(start) : j]), nil
}

// Replace returns doc with content between name's markers.
func Replace(doc []byte, name, content string) ([]byte, error) {
	old, err := Between(doc, name)
	if err != nil {
		return nil, err
	}
	start, _ := markers(name)
	i := bytes.Index(doc, []byte(start)) + len(start)
	var b bytes.Buffer
	b.Write(doc[:i])
	b.WriteString(content)
	b.Write(doc[i+len(old):])
	return b.Bytes(), nil
}

// Readme returns readme with its tables made from actionYML.
func Readme(readme, actionYML []byte) ([]byte, error) {
	tables, err := ActionTables(actionYML)
	if err != nil {
		return nil, err
	}
	for _, name := range []string{InputsTable, OutputsTable} {
		if readme, err = Replace(readme, name, tables[name]); err != nil {
			return nil, fmt.Errorf("README.md: %w", err)
		}
	}
	return readme, nil
}

// UpdateReadme writes root's README.md tables from its action.yml, and
// says whether the file changed.
func UpdateReadme(root string) (changed bool, err error) {
	actionYML, err := os.ReadFile(filepath.Join(root, "action.yml"))
	if err != nil {
		return false, err
	}
	path := filepath.Join(root, "README.md")
	readme, err := os.ReadFile(path)
	if err != nil {
		return false, err
	}
	updated, err := Readme(readme, actionYML)
	if err != nil {
		return false, err
	}
	if bytes.Equal(updated, readme) {
		return false, nil
	}
	return true, os.WriteFile(path, updated, 0o644)
}
